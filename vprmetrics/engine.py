"""The exact streaming ranking engine: descriptors + ground truth -> ranking facts.

Algorithm (DESIGN.md sections 2 and 3), for every query ``q``:

1. ``d*``, ``S`` and the first tied positive come from exact float64 distances to the
   query's positives only (a gather over the CSR ground truth, never the full database).
2. The database streams in blocks. A float32 GEMM gives approximate distances ``d~``
   with ``|d~ - d| <= m_q`` (:func:`vprmetrics.distances.float32_margin`). With the band
   half-width ``w = m_q + 2 tie_rtol (|d*| + m_q)``:

   * ``d~ < d* - w``: surely a negative strictly closer than ``d*`` -> counted in ``L``;
   * ``|d~ - d*| <= w``: re-decided with the exact float64 distance (closer, tied, or not);
   * ``d~ <= tau_q + w`` (``tau_q`` the current exact k-th distance): re-decided exactly and
     merged into the running top-k.

   Nothing else is kept: memory is O(block x queries + queries x k), never
   queries x database.
3. ``T = (tied items) - S`` (the positives' exact distances are computed by the same
   row-wise function in steps 1 and 2, so a positive is never counted as a negative).

>>> import numpy as np
>>> from vprmetrics.positives import Positives
>>> db = np.array([[0.0], [1.0], [1.0], [3.0]]); q = np.array([[1.0]])
>>> f = rank(q, db, Positives.from_lists([[2]], 4), k=2)
>>> f.closer.tolist(), f.tied_negatives.tolist(), f.tied_negatives_before.tolist()
([0], [1], [1])
>>> f.topk_ids.tolist()
[[1, 2]]
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

from vprmetrics.checks import as_descriptors
from vprmetrics.distances import (
    MAX_NORM_F32,
    check_metric,
    float32_margin,
    normalize_rows,
    ties,
)
from vprmetrics.errors import InputError, InputTypeError, require
from vprmetrics.facts import RankingFacts
from vprmetrics.positives import Positives

__all__ = ["BACKENDS", "rank"]

BACKENDS: tuple[str, ...] = ("numpy", "faiss")
_TOPK_SLACK = 16  # extra exact candidates kept so tie groups at the k-th place stay whole
_GATHER_ELEMENTS = 1 << 23  # float64 elements per chunk of the positives' gather
_SCORE_ELEMENTS = 1 << 22  # float32 elements of one (query chunk x database block) score tile


def _prepare(rows: np.ndarray, metric: str) -> np.ndarray:
    """Rows in float64 as the exact distance sees them (unit rows for cosine)."""
    rows = np.asarray(rows, dtype=np.float64)
    return normalize_rows(rows) if metric == "cosine" else rows


def _exact(q_rows: np.ndarray, x_rows: np.ndarray, metric: str) -> np.ndarray:
    """Exact distances of paired, prepared rows (row-wise, position independent)."""
    if metric == "l2":
        diff = q_rows - x_rows
        return np.einsum("ij,ij->i", diff, diff)
    return -np.einsum("ij,ij->i", q_rows, x_rows)


def _best_positives(
    q64: np.ndarray, database: np.ndarray, positives: Positives, metric: str, rtol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per query: d* (NaN without positives), S, and the index of the first tied positive."""
    nq, dim = q64.shape
    entry_query = positives.query_of_entry
    dist = np.empty(positives.ids.size, dtype=np.float64)
    step = max(1, _GATHER_ELEMENTS // dim)
    for start in range(0, dist.size, step):
        ids = positives.ids[start : start + step]
        x = _prepare(database[ids], metric)
        dist[start : start + step] = _exact(q64[entry_query[start : start + step]], x, metric)
    d_star = np.full(nq, np.nan)
    has = positives.has_positive
    if dist.size:
        d_star[has] = np.minimum.reduceat(dist, positives.lims[:-1][has])
    tied = ties(dist, d_star[entry_query], rtol)
    n_tied = np.bincount(entry_query[tied], minlength=nq).astype(np.int64)
    first = np.full(nq, positives.n_database, dtype=np.int64)
    np.minimum.at(first, entry_query[tied], positives.ids[tied])
    return d_star, n_tied, first


class _TopK:
    """Running exact top-k per query: ascending (distance, database index)."""

    def __init__(self, nq: int, k: int) -> None:
        self.k = k
        self.dist = np.full((nq, k), np.inf)
        self.ids = np.full((nq, k), -1, dtype=np.int64)

    def threshold(self, rows: slice) -> np.ndarray:
        return self.dist[rows, -1]

    def merge(self, rows: slice, q_local: np.ndarray, ids: np.ndarray, dist: np.ndarray) -> None:
        """Merge candidates (query row within ``rows``, database id, exact distance)."""
        if q_local.size == 0:
            return
        cur_d, cur_i = self.dist[rows], self.ids[rows]
        nrow = cur_d.shape[0]
        all_q = np.concatenate([np.repeat(np.arange(nrow), self.k), q_local])
        all_d = np.concatenate([cur_d.ravel(), dist])
        all_i = np.concatenate([cur_i.ravel(), ids])
        order = np.lexsort((all_i, all_d, all_q))
        all_q, all_d, all_i = all_q[order], all_d[order], all_i[order]
        starts = np.searchsorted(all_q, np.arange(nrow))
        place = np.arange(all_q.size) - starts[all_q]
        keep = place < self.k
        cur_d[all_q[keep], place[keep]] = all_d[keep]
        cur_i[all_q[keep], place[keep]] = all_i[keep]
        self.dist[rows], self.ids[rows] = cur_d, cur_i

    def finish(self, k: int, rtol: float) -> tuple[np.ndarray, np.ndarray]:
        """The first ``k`` columns, with items that tie (``rtol``) ordered by index."""
        dist, ids = self.dist, self.ids
        group = np.zeros(dist.shape, dtype=np.int64)
        leader = dist[:, 0].copy()
        for col in range(1, dist.shape[1]):
            new = ~ties(dist[:, col], leader, rtol) & np.isfinite(dist[:, col])
            group[:, col] = group[:, col - 1] + new
            leader = np.where(new, dist[:, col], leader)
        pad = ids < 0
        order = np.lexsort((np.where(pad, np.iinfo(np.int64).max, ids), group), axis=1)
        ids = np.take_along_axis(ids, order, axis=1)[:, :k]
        dist = np.take_along_axis(dist, order, axis=1)[:, :k]
        return ids, dist


def _scorer(backend: str, metric: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A float32 block scorer; returns approximate distances up to a per-query shift."""
    if backend == "numpy":
        return lambda q32, x32: q32 @ x32.T
    faiss = require("faiss", "faiss", "the faiss backend")
    kind = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    sign = 1.0 if metric == "l2" else -1.0
    return lambda q32, x32: sign * faiss.pairwise_distances(q32, x32, metric=kind)


def _query_matrix(q64: np.ndarray, metric: str, backend: str) -> tuple[np.ndarray, np.ndarray]:
    """float32 query rows for the scorer, and the shift ``d~ = score + shift``."""
    if backend == "numpy" and metric == "l2":
        # [-2q, 1] . [x, |x|^2] = |x|^2 - 2 q.x = d - |q|^2: one GEMM, no extra passes.
        aug = np.hstack([-2.0 * q64, np.ones((q64.shape[0], 1))]).astype(np.float32)
        return aug, np.einsum("ij,ij->i", q64, q64)
    if backend == "numpy":
        return (-q64).astype(np.float32), np.zeros(q64.shape[0])
    return q64.astype(np.float32), np.zeros(q64.shape[0])


def _check_norms(norms: np.ndarray, name: str) -> None:
    if norms.size and norms.max() > MAX_NORM_F32:
        raise InputError(
            f"{name} has a descriptor of norm {norms.max():.3g}, too large for float32 "
            f"ranking (limit {MAX_NORM_F32:g}); scale the descriptors down, e.g. L2-normalise"
        )


def _database_matrix(x64: np.ndarray, metric: str, backend: str) -> np.ndarray:
    if backend == "numpy" and metric == "l2":
        return np.hstack([x64, np.einsum("ij,ij->i", x64, x64)[:, None]]).astype(np.float32)
    return x64.astype(np.float32)


def _progress(total: int, enabled: bool | None, desc: str):
    if enabled is None:
        enabled = sys.stderr.isatty() and total > 4
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="block", leave=False)


def _check_inputs(queries, database, positives: Positives, k: int, tie_rtol: float):
    q = as_descriptors(queries, "queries")
    x = as_descriptors(database, "database")
    if q.shape[1] != x.shape[1]:
        raise InputError(
            f"queries have dim {q.shape[1]} but database has dim {x.shape[1]}; "
            "extract both with the same model"
        )
    if not isinstance(positives, Positives):
        raise InputTypeError(
            f"positives must be a vprmetrics.Positives, got {type(positives).__name__}; "
            "build it with positives_within_radius or Positives.from_lists"
        )
    if positives.n_queries != q.shape[0] or positives.n_database != x.shape[0]:
        raise InputError(
            f"ground truth is for {positives.n_queries} queries x {positives.n_database} "
            f"database items but descriptors are {q.shape[0]} x {x.shape[0]}; "
            "use the ground truth of this query and database set"
        )
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise InputError(f"k = {k!r} must be a positive integer")
    if k > x.shape[0]:
        raise InputError(
            f"k = {k} exceeds the database size {x.shape[0]}; ask for N <= {x.shape[0]}"
        )
    if not 0.0 <= tie_rtol < 1e-3:
        raise InputError(f"tie_rtol = {tie_rtol!r} must be in [0, 1e-3); the default is 1e-9")
    return q, x


def rank(
    queries: np.ndarray,
    database: np.ndarray,
    positives: Positives,
    *,
    metric: str = "l2",
    k: int = 20,
    tie_rtol: float = 1e-9,
    block_size: int | None = None,
    backend: str = "numpy",
    progress: bool | None = None,
) -> RankingFacts:
    """Rank ``database`` for every query exactly and return the :class:`RankingFacts`.

    ``queries`` (nq, dim) and ``database`` (n, dim) are float arrays (``database`` may be a
    memory-mapped ``.npy``); ``positives`` the ground truth; ``k`` the length of the
    exact top-k list (at least the largest N you will ask for); ``block_size`` the
    database rows per block (default: about 16 MB of float32 scores per tile);
    ``backend`` ``"numpy"`` (BLAS sgemm) or ``"faiss"`` (faiss's sgemm).
    """
    check_metric(metric)
    if backend not in BACKENDS:
        raise InputError(f"backend {backend!r} is unknown; use one of {', '.join(BACKENDS)}")
    q, x = _check_inputs(queries, database, positives, k, tie_rtol)
    nq, dim = q.shape
    n = x.shape[0]
    q64 = _prepare(q, metric)
    d_star, n_tied_pos, first_tied_pos = _best_positives(q64, x, positives, metric, tie_rtol)
    has = ~np.isnan(d_star)
    q32, shift = _query_matrix(q64, metric, backend)
    q_norm = np.ones(nq) if metric == "cosine" else np.sqrt(np.einsum("ij,ij->i", q64, q64))
    _check_norms(q_norm, "queries")
    score = _scorer(backend, metric)

    bx = int(block_size) if block_size else max(256, min(n, _SCORE_ELEMENTS // 1024))
    if bx < 1:
        raise InputError(f"block_size = {block_size!r} must be a positive integer")
    qc = max(1, _SCORE_ELEMENTS // bx)
    closer = np.zeros(nq, dtype=np.int64)
    tied_all = np.zeros(nq, dtype=np.int64)
    tied_before = np.zeros(nq, dtype=np.int64)
    top = _TopK(nq, min(n, k + _TOPK_SLACK))
    safe_d_star = np.where(has, d_star, 0.0)

    bar = _progress(-(-n // bx), progress, "ranking")
    for b0 in range(0, n, bx):
        x64 = _prepare(x[b0 : b0 + bx], metric)
        x32 = _database_matrix(x64, metric, backend)
        x_norms = np.sqrt(np.einsum("ij,ij->i", x64, x64))
        _check_norms(x_norms, "database")
        x_norm_max = 1.0 if metric == "cosine" else float(x_norms.max())
        for q0 in range(0, nq, qc):
            rows = slice(q0, min(nq, q0 + qc))
            s = score(q32[rows], x32)
            margin = float32_margin(dim, q_norm[rows], x_norm_max, metric)
            ds = safe_d_star[rows]
            width = margin + 2.0 * tie_rtol * (np.abs(ds) + margin)
            sh = shift[rows]
            counted = has[rows]
            lo = np.where(counted, ds - width - sh, -np.inf)
            hi = np.where(counted, ds + width - sh, -np.inf)
            tau = top.threshold(rows)
            if np.isinf(tau).any() and s.shape[1] >= top.k:
                kth = np.partition(s, top.k - 1, axis=1)[:, top.k - 1] + sh + margin
                tau = np.minimum(tau, kth)
            upper = tau + margin + 2.0 * tie_rtol * (np.abs(tau) + margin) - sh
            upper = np.where(np.isnan(upper), np.inf, upper)

            below_lo = s < lo[:, None]
            closer[rows] += below_lo.sum(axis=1)
            in_band = (s <= hi[:, None]) & ~below_lo
            cand = in_band | (s <= upper[:, None])
            qi, xj = np.nonzero(cand)
            if qi.size == 0:
                continue
            qg = qi + q0
            exact = _exact(q64[qg], x64[xj], metric)
            band = in_band[qi, xj]
            if band.any():
                bq, bd, bj = qg[band], exact[band], xj[band] + b0
                is_tie = ties(bd, d_star[bq], tie_rtol)
                is_closer = (bd < d_star[bq]) & ~is_tie
                closer += np.bincount(bq[is_closer], minlength=nq)
                tied_all += np.bincount(bq[is_tie], minlength=nq)
                before = is_tie & (bj < first_tied_pos[bq])
                tied_before += np.bincount(bq[before], minlength=nq)
            top.merge(rows, qi, xj + b0, exact)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()

    tied_neg = tied_all - n_tied_pos
    if np.any(tied_neg[has] < 0):  # would mean the float32 margin was too small
        raise RuntimeError("internal error: a tied positive fell outside the exact band")
    zero = np.zeros(nq, dtype=np.int64)
    topk_ids, topk_dist = top.finish(k, tie_rtol)
    return RankingFacts(
        d_star=d_star,
        closer=np.where(has, closer, zero),
        tied_negatives=np.where(has, tied_neg, zero),
        tied_positives=np.where(has, n_tied_pos, zero),
        tied_negatives_before=np.where(has, tied_before, zero),
        n_positives=positives.counts.astype(np.int64),
        topk_ids=topk_ids,
        topk_distances=topk_dist,
        n_database=n,
        metric=metric,
        tie_rtol=float(tie_rtol),
    )
