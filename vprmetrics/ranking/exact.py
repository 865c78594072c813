"""Exact float64 distances: the one computation every decision that matters uses.

Each value depends only on the two rows (never on their position in a batch or on the
other rows), so two identical database vectors always get bitwise identical distances,
whatever the BLAS blocking. :func:`exact_pairs` streams the rows it gathers in bounded
chunks (``limits.EXACT_ELEMENTS`` float64 values), so memory stays bounded even when every
pair must be re-decided (collapsed descriptors).

>>> q = np.array([[0.0, 0.0]]); x = np.array([[3.0, 4.0]])
>>> float(exact_distances(q, x, "l2")[0]), float(exact_distances(q + 1, x, "ip")[0])
(25.0, -7.0)
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from vprmetrics.ranking import limits
from vprmetrics.ranking.distances import normalize_rows, tie_scale

__all__ = [
    "exact_distances",
    "exact_pairs",
    "exact_pairs_scaled",
    "exact_segments",
    "max_row_norm",
    "prepare_rows",
    "row_sq_norms",
]


def row_sq_norms(rows: np.ndarray) -> np.ndarray:
    """``|x|^2`` of float64 rows (the one computation the tie scales use)."""
    return np.einsum("ij,ij->i", rows, rows)


def exact_distances(q_rows: np.ndarray, x_rows: np.ndarray, metric: str) -> np.ndarray:
    """Distances between paired rows ``q_rows[i]`` and ``x_rows[i]``, in float64.

    Each value depends only on the two rows (never on their position in a batch), so
    identical database rows get identical distances.
    """
    q = np.asarray(q_rows, dtype=np.float64)
    x = np.asarray(x_rows, dtype=np.float64)
    if metric == "l2":
        diff = q - x
        return np.einsum("ij,ij->i", diff, diff)
    if metric == "cosine":
        q, x = normalize_rows(q), normalize_rows(x)
    return -np.einsum("ij,ij->i", q, x)


def prepare_rows(rows: np.ndarray, metric: str) -> np.ndarray:
    """Rows in float64 as the exact distance sees them (unit rows for cosine)."""
    rows = np.asarray(rows, dtype=np.float64)
    return normalize_rows(rows) if metric == "cosine" else rows


def exact_segments(q_src: np.ndarray, rows: np.ndarray, qi: np.ndarray, metric: str) -> np.ndarray:
    """Exact distances between query ``qi[i]`` and the prepared row ``rows[i]``.

    ``q_src`` holds the queries as the exact distance sees them (any float dtype; rows are
    converted to float64, which is exact). ``qi`` must keep each query's entries
    contiguous. ``rows`` is a private float64 array and is overwritten. Each value depends
    only on the two rows (never on their position or on the other rows), so identical
    database rows get bitwise identical distances.
    """
    n = qi.size
    out = np.empty(n)
    if n == 0:
        return out
    cut = np.flatnonzero(qi[1:] != qi[:-1]) + 1
    starts = np.concatenate(([0], cut)).tolist()
    ends = np.concatenate((cut, [n])).tolist()
    queries = qi[starts].tolist()
    if metric == "l2":
        for s, e, q in zip(starts, ends, queries, strict=True):
            np.subtract(rows[s:e], np.asarray(q_src[q], dtype=np.float64), out=rows[s:e])
        return np.einsum("ij,ij->i", rows, rows)
    for s, e, q in zip(starts, ends, queries, strict=True):
        out[s:e] = np.einsum("ij,j->i", rows[s:e], np.asarray(q_src[q], dtype=np.float64))
    return np.negative(out, out=out)


def _l2_segments(q_src: np.ndarray, rows: np.ndarray, qi: np.ndarray) -> np.ndarray:
    """:func:`exact_segments` for l2 from rows in their own dtype: ``x - q`` is formed in
    float64 in one pass (float32 to float64 is exact), giving the same values."""
    diff = np.empty(rows.shape)
    if qi.size == 0:
        return np.empty(0)
    cut = np.flatnonzero(qi[1:] != qi[:-1]) + 1
    starts = np.concatenate(([0], cut)).tolist()
    ends = np.concatenate((cut, [qi.size])).tolist()
    for s, e, q in zip(starts, ends, qi[starts].tolist(), strict=True):
        np.subtract(rows[s:e], np.asarray(q_src[q], dtype=np.float64), out=diff[s:e])
    return np.einsum("ij,ij->i", diff, diff)


def _pairs(
    q_src: np.ndarray,
    database: np.ndarray,
    qi: np.ndarray,
    ids: np.ndarray,
    metric: str,
    x_sq: np.ndarray | None,
) -> np.ndarray:
    out = np.empty(qi.size)
    step = max(1, limits.EXACT_ELEMENTS // q_src.shape[1])

    def work(start: int) -> None:
        part = slice(start, start + step)
        if metric == "l2" and x_sq is None:  # one fused pass: (x - q) in float64
            out[part] = _l2_segments(q_src, database[ids[part]], qi[part])
            return
        rows = prepare_rows(database[ids[part]], metric)
        if x_sq is not None:
            x_sq[part] = row_sq_norms(rows)
        out[part] = exact_segments(q_src, rows, qi[part], metric)

    starts = range(0, qi.size, step)
    if len(starts) < 4 or limits.THREADS < 2:
        for start in starts:
            work(start)
    else:
        with ThreadPoolExecutor(limits.THREADS) as pool:
            list(pool.map(work, starts))
    return out


def exact_pairs(
    q_src: np.ndarray, database: np.ndarray, qi: np.ndarray, ids: np.ndarray, metric: str
) -> np.ndarray:
    """Exact distances of the pairs ``(qi[i], database[ids[i]])`` (entries of a query
    contiguous; ``database`` any row-indexable array, e.g. one block), rows gathered in
    chunks of :data:`limits.EXACT_ELEMENTS` float64 values, so memory stays bounded even when
    every pair must be re-decided (collapsed descriptors); chunks are spread over a few
    threads (numpy releases the GIL in the gathers and the arithmetic)."""
    return _pairs(q_src, database, qi, ids, metric, None)


def exact_pairs_scaled(
    q_src: np.ndarray,
    q_sq: np.ndarray,
    database: np.ndarray,
    qi: np.ndarray,
    ids: np.ndarray,
    metric: str,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`exact_pairs` and the pairs' tie scales
    (:func:`vprmetrics.ranking.distances.tie_scale`; ``q_sq`` the queries' ``|q|^2``)."""
    x_sq = np.empty(qi.size)
    d = _pairs(q_src, database, qi, ids, metric, x_sq)
    return d, tie_scale(q_sq[qi], x_sq, metric)


def max_row_norm(database, metric: str) -> float:
    """An upper bound on the largest ``|x|`` of the database rows as the exact distance sees
    them (1 for cosine), read in bounded chunks; it bounds every tie scale of the top-k."""
    if metric == "cosine":
        return 1.0
    n, dim = database.shape
    step = max(1, limits.EXACT_ELEMENTS // max(1, dim))
    best = 0.0
    for i in range(0, n, step):
        rows = database[i : i + step]
        if rows.dtype != np.float32:
            rows = prepare_rows(rows, metric)
        best = max(best, float(np.einsum("ij,ij->i", rows, rows, dtype=np.float64).max(initial=0)))
    return float(np.sqrt(best)) * (1.0 + 1e-6)  # a bound: rounding in the sum cannot exceed it
