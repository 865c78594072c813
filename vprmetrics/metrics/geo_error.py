"""Geographic error of retrievals: how far (in metres) the retrieved places are.

For query q and its retrieved database item j the geographic error is
``e = dist(q, j)`` (:func:`vprmetrics.geo.geodesy.geo_distance_m`: Euclidean for UTM,
haversine for latitude/longitude). From it come the error histogram over the bins used in
the literature (:data:`GEO_ERROR_BINS_M`), its CDF, and recall as a function of the
positive threshold (how a Recall@N number moves when "correct" means within t metres).

>>> e = retrieved_geo_error_m([[0, 0], [0, 0]], [[3, 4], [0, 30]], [0, 1])
>>> e.tolist()
[5.0, 30.0]
>>> h = geo_error_histogram(e)
>>> h.cdf[:3].tolist(), h.median_m
([0.5, 0.5, 0.5], 17.5)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from vprmetrics.checks import as_cutoffs
from vprmetrics.errors import InputError, InputTypeError
from vprmetrics.geo.geodesy import as_geo_coordinates, check_coordinate_kind, geo_distance_m

__all__ = [
    "DEFAULT_THRESHOLDS_M",
    "GEO_ERROR_BINS_M",
    "GeoErrorHistogram",
    "RecallVsThreshold",
    "geo_error_histogram",
    "recall_vs_threshold",
    "retrieved_geo_error_m",
]

GEO_ERROR_BINS_M: tuple[float, ...] = (
    0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 3000.0, float("inf"),
)  # fmt: skip
"""Bin edges in metres of the geographic-error histogram used in the literature."""

DEFAULT_THRESHOLDS_M: tuple[float, ...] = tuple(float(t) for t in range(5, 101, 5))
"""Positive thresholds 5, 10, ..., 100 m of :func:`recall_vs_threshold`."""


def _as_retrieved_ids(retrieved_ids: ArrayLike, n_queries: int, n_database: int) -> np.ndarray:
    ids = np.asarray(retrieved_ids)
    if ids.dtype == object or not np.issubdtype(ids.dtype, np.integer):
        raise InputTypeError(
            f"retrieved_ids has dtype {ids.dtype}, expected integer database ids "
            "(-1 for none); convert with ids.astype('int64')"
        )
    if ids.ndim not in (1, 2) or ids.shape[0] != n_queries:
        raise InputError(
            f"retrieved_ids has shape {ids.shape}, expected ({n_queries},) or ({n_queries}, k): "
            "one row per query"
        )
    ids = ids.astype(np.int64, copy=False)
    if ids.size and (ids.min() < -1 or ids.max() >= n_database):
        raise InputError(
            f"retrieved_ids holds ids from {ids.min()} to {ids.max()}, outside [-1, {n_database}); "
            "use database row numbers, and -1 for 'nothing retrieved'"
        )
    return ids


def retrieved_geo_error_m(
    query_coords: ArrayLike,
    database_coords: ArrayLike,
    retrieved_ids: ArrayLike,
    coords: str = "utm",
) -> np.ndarray:
    """Distance in metres from each query to each of its retrieved database items.

    ``error[q, i] = dist(query_coords[q], database_coords[retrieved_ids[q, i]])``, with the
    shape of ``retrieved_ids`` (``(q,)`` for top-1, or ``(q, k)``). An id of -1 (faiss's
    padding when fewer than k items exist) means nothing was retrieved: its error is NaN.

    >>> retrieved_geo_error_m([[0, 0]], [[6, 8], [0, 1]], [[1, 0, -1]]).tolist()
    [[1.0, 10.0, nan]]
    """
    check_coordinate_kind(coords)
    query = as_geo_coordinates(query_coords, "query_coords", coords)
    database = as_geo_coordinates(database_coords, "database_coords", coords)
    ids = _as_retrieved_ids(retrieved_ids, query.shape[0], database.shape[0])
    errors = np.full(ids.shape, np.nan)
    found = ids >= 0
    query_index = np.broadcast_to(
        np.arange(query.shape[0]).reshape((-1,) + (1,) * (ids.ndim - 1)), ids.shape
    )
    errors[found] = geo_distance_m(query[query_index[found]], database[ids[found]], coords)
    return errors


@dataclass(frozen=True)
class GeoErrorHistogram:
    """Histogram of geographic errors over right-closed bins ``(lo, hi]`` (the first
    bin also holds ``lo``).

    ``counts[i]`` counts errors in bin i; ``fractions = counts / n``; ``cdf[i]`` is the share
    of errors ``<= bins[i + 1]``. ``n`` counts the finite errors, ``n_nan`` the NaNs (nothing
    retrieved), which are left out of every other field. With ``n == 0`` the fractions, CDF
    and median are NaN.
    """

    bins: tuple[float, ...]
    counts: np.ndarray
    fractions: np.ndarray
    cdf: np.ndarray
    median_m: float
    n: int
    n_nan: int


def _as_bins(bins: Iterable[float]) -> tuple[float, ...]:
    edges = np.asarray(list(bins), dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or np.isnan(edges).any():
        raise InputError("bins must be at least two edges in metres, e.g. (0, 5, 10, inf)")
    if edges[0] < 0 or np.any(np.diff(edges) <= 0):
        raise InputError(
            f"bins {edges.tolist()} must be >= 0 and strictly increasing, e.g. (0, 5, 10, inf)"
        )
    return tuple(float(e) for e in edges)


def geo_error_histogram(
    errors_m: ArrayLike, bins: Iterable[float] = GEO_ERROR_BINS_M
) -> GeoErrorHistogram:
    """Histogram, CDF and median of geographic errors in metres.

    Bins are right-closed, ``(bins[i], bins[i+1]]``, the first also holding ``bins[0]``, so
    ``cdf[i] = #{e <= bins[i+1]} / n`` is "the share within bins[i+1] metres" and an error
    of exactly 25 m falls in the 20-25 bin. Errors above a finite last edge are counted in
    ``n`` but in no bin. ``errors_m`` is one error per query (e.g. the top-1 column of
    :func:`retrieved_geo_error_m`); NaN means nothing retrieved and is counted in ``n_nan``.

    >>> h = geo_error_histogram([0.0, 5.0, 7.5, 30.0, float("nan")], bins=(0, 5, 10, 50))
    >>> h.counts.tolist(), h.cdf.tolist(), h.median_m, h.n, h.n_nan
    ([2, 1, 1], [0.5, 0.75, 1.0], 6.25, 4, 1)
    """
    edges = _as_bins(bins)
    errors = np.asarray(errors_m, dtype=np.float64)
    if errors.ndim != 1:
        raise InputError(
            f"errors_m has shape {errors.shape}, expected one error per query; pass "
            "errors[:, 0] for top-1 or np.nanmin(errors[:, :N], axis=1) for the best of top N"
        )
    is_nan = np.isnan(errors)
    valid = errors[~is_nan]
    if valid.size and valid.min() < edges[0]:
        raise InputError(
            f"errors_m has a value {valid.min()} below the first bin edge {edges[0]}; "
            "errors are distances >= 0"
        )
    bin_of = np.searchsorted(np.asarray(edges), valid, side="left") - 1
    bin_of[valid == edges[0]] = 0
    inside = bin_of < len(edges) - 1
    counts = np.bincount(bin_of[inside], minlength=len(edges) - 1)
    n = int(valid.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        fractions = counts / n if n else np.full(counts.shape, np.nan)
        cdf = np.cumsum(counts) / n if n else np.full(counts.shape, np.nan)
    median = float(np.median(valid)) if n else float("nan")
    return GeoErrorHistogram(edges, counts, fractions, cdf, median, n, int(is_nan.sum()))


@dataclass(frozen=True)
class RecallVsThreshold:
    """``recall[i, j]``: share of queries with one of their first ``ns[i]`` retrieved items
    within ``thresholds_m[j]`` metres."""

    ns: tuple[int, ...]
    thresholds_m: tuple[float, ...]
    recall: np.ndarray
    n_queries: int


def _as_thresholds(thresholds_m: Iterable[float]) -> tuple[float, ...]:
    values = np.asarray(list(thresholds_m), dtype=np.float64).reshape(-1)
    if values.size == 0 or not np.all(np.isfinite(values)) or values.min() < 0:
        raise InputError(
            "thresholds_m must be one or more finite distances >= 0 in metres, e.g. 5,10,25"
        )
    return tuple(float(t) for t in np.unique(values))


def recall_vs_threshold(
    query_coords: ArrayLike,
    database_coords: ArrayLike,
    topk_ids: ArrayLike,
    ns: Iterable[int] = (1, 5, 10),
    thresholds_m: Iterable[float] = DEFAULT_THRESHOLDS_M,
    coords: str = "utm",
) -> RecallVsThreshold:
    """Recall@N as a function of the positive threshold t (in metres)::

        recall[N, t] = (1 / Q) * #{q : min_{i < N} error[q, i] <= t}

    with ``error`` from :func:`retrieved_geo_error_m` on the first N columns of
    ``topk_ids``. Every query is scored: one with nothing within t (or nothing retrieved,
    id -1) is a miss. ``ns`` and ``thresholds_m`` are sorted and deduplicated; N larger than
    the k columns given raises.

    Ties: this uses the given top-k order as it is and never sees descriptor distances, so
    items tied in descriptor distance at the N-th place are resolved the way the caller
    ordered them. Pass lists ordered with ties broken by lowest database index (the
    ``stable`` policy, ``argsort(kind="stable")``) to get reproducible numbers; the exact
    tie-aware Recall@N of the core is computed from distances, not from a top-k list.

    >>> r = recall_vs_threshold([[0, 0]], [[0, 30], [0, 8]], [[0, 1]], ns=(1, 2),
    ...                         thresholds_m=(10, 25, 30))
    >>> r.recall.tolist()
    [[0.0, 0.0, 1.0], [1.0, 1.0, 1.0]]
    """
    cutoffs = as_cutoffs(ns, "N")
    thresholds = _as_thresholds(thresholds_m)
    ids = np.asarray(topk_ids)
    if ids.ndim == 1:
        ids = ids[:, None]
    if ids.ndim != 2 or ids.shape[0] == 0:
        raise InputError(f"topk_ids has shape {ids.shape}, expected (n_queries, k) with rows")
    if cutoffs[-1] > ids.shape[1]:
        raise InputError(
            f"N = {cutoffs[-1]} exceeds the k = {ids.shape[1]} retrieved columns of topk_ids; "
            f"retrieve at least k = {cutoffs[-1]} items per query or lower N"
        )
    errors = retrieved_geo_error_m(query_coords, database_coords, ids, coords)
    errors = np.where(np.isnan(errors), np.inf, errors)
    best_within_n = np.minimum.accumulate(errors, axis=1)[:, [n - 1 for n in cutoffs]]
    hits = best_within_n[:, :, None] <= np.asarray(thresholds)[None, None, :]
    return RecallVsThreshold(tuple(cutoffs), thresholds, hits.mean(axis=0), ids.shape[0])
