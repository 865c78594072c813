"""The exact streaming ranking engine: descriptors + ground truth -> ranking facts.

Algorithm (DESIGN.md sections 2 and 3), for every query ``q``:

1. ``d*``, ``S`` and the first tied positive come from the query's positives only (never
   the full database). A float32 GEMM of a block of queries against the union of their
   positives gives approximate distances ``d~`` with ``|d~ - d| <= m_q``
   (:func:`vprmetrics.ranking.distances.float32_margin`); only the positives that can still be the
   best or tie with it (``d~ - m_q <= min(d~ + m_q)`` plus the tie tolerance) get the exact
   float64 distance.
2. The database streams in blocks. A float32 GEMM gives ``d~`` for a tile of queries x
   block. With the band half-width ``w = m_q + 2 tie_rtol (|d*| + m_q)``:

   * ``d~ < d* - w``: surely a negative strictly closer than ``d*`` -> counted in ``L``;
   * ``|d~ - d*| <= w``: re-decided with the exact float64 distance (closer, tied, or not);
   * ``d~ - m_q <= tau_q`` (``tau_q`` an upper bound on the k-th smallest distance, plus the
     tie tolerance): kept in a per-query pool with its bounds ``d~ -+ m_q``.

   One pass over the tile (``d~ <= max(d* + w, tau_q + m_q)``) selects everything that is
   not surely farther; the selected entries are classified in float64. Nothing else is
   kept: memory is O(tile + queries x pool), never queries x database.
3. The pool entries whose lower bound can still reach the k-th place get their exact
   distance at the end; the top-k is the ``k + 16`` best by (exact distance, index) among
   them, with tie groups ordered by index.
4. ``T = (tied items) - S``. Every exact distance is computed by the same row-wise
   function (:func:`_exact_segments`), so a positive is never counted as a negative and
   identical database rows always tie.

>>> import numpy as np
>>> from vprmetrics.geo.positives import Positives
>>> db = np.array([[0.0], [1.0], [1.0], [3.0]]); q = np.array([[1.0]])
>>> f = rank(q, db, Positives.from_lists([[2]], 4), k=2)
>>> f.closer.tolist(), f.tied_negatives.tolist(), f.tied_negatives_before.tolist()
([0], [1], [1])
>>> f.topk_ids.tolist()
[[1, 2]]
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from vprmetrics.checks import as_descriptors, check_shape
from vprmetrics.errors import InputError, InputTypeError, require
from vprmetrics.geo.positives import Positives
from vprmetrics.ranking.distances import (
    MAX_NORM_F32,
    check_metric,
    float32_margin,
    normalize_rows,
    ties,
)
from vprmetrics.ranking.facts import RankingFacts

__all__ = [
    "BACKENDS",
    "QueryState",
    "ShardScan",
    "merge_scans",
    "prepare_queries",
    "rank",
    "scan_shard",
]

BACKENDS: tuple[str, ...] = ("numpy", "faiss")
_TOPK_SLACK = 16  # extra exact candidates kept so tie groups at the k-th place stay whole
_EXACT_ELEMENTS = 1 << 20  # float64 elements per chunk of exact distances (8 MB)
_SCORE_ELEMENTS = 1 << 22  # float32 elements of one (query chunk x database block) score tile
_POOL_START = 32  # initial pool slots per query (grown on demand)
_POOL_MAX = 256  # beyond this many slots a query's pool is resolved exactly and truncated
_POOL_KEEP_FACTOR = 4  # ... but never below this many times (>= 1) the kept top-k length
_THREADS = min(4, os.cpu_count() or 1)  # threads for the final exact distances
_UNION_GEMM_RATIO = 16  # positives pass: one GEMM when queries x union <= this x pairs
_DENSE_TILE = 32  # a tile selecting more than 1/_DENSE_TILE of its entries is tightened


def _prepare(rows: np.ndarray, metric: str) -> np.ndarray:
    """Rows in float64 as the exact distance sees them (unit rows for cosine)."""
    rows = np.asarray(rows, dtype=np.float64)
    return normalize_rows(rows) if metric == "cosine" else rows


def _exact_segments(q_src: np.ndarray, rows: np.ndarray, qi: np.ndarray, metric: str) -> np.ndarray:
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


def _exact_pairs(
    q_src: np.ndarray, database: np.ndarray, qi: np.ndarray, ids: np.ndarray, metric: str
) -> np.ndarray:
    """Exact distances of the pairs ``(qi[i], database[ids[i]])`` (entries of a query
    contiguous; ``database`` any row-indexable array, e.g. one block), rows gathered in
    chunks of :data:`_EXACT_ELEMENTS` float64 values, so memory stays bounded even when
    every pair must be re-decided (collapsed descriptors); chunks are spread over a few
    threads (numpy releases the GIL in the gathers and the arithmetic)."""
    out = np.empty(qi.size)
    step = max(1, _EXACT_ELEMENTS // q_src.shape[1])

    def work(start: int) -> None:
        part = slice(start, start + step)
        rows = _prepare(database[ids[part]], metric)
        out[part] = _exact_segments(q_src, rows, qi[part], metric)

    starts = range(0, qi.size, step)
    if len(starts) < 4 or _THREADS < 2:
        for start in starts:
            work(start)
    else:
        with ThreadPoolExecutor(_THREADS) as pool:
            list(pool.map(work, starts))
    return out


@dataclass
class _Block:
    """A database block ready for scoring: its rows as given (exact distances re-read
    them), the float32 GEMM operand, the per-column float64 term added to the GEMM
    (``|x|^2`` for numpy l2, else None), the largest norm, and ``|x|^2`` rounded to
    float32 (as float64)."""

    src: np.ndarray
    x32: np.ndarray
    column: np.ndarray | None
    norm_max: float
    sq32: np.ndarray


def _block(rows: np.ndarray, metric: str, backend: str) -> _Block:
    rows = np.asarray(rows)
    n = rows.shape[0]
    sq = np.empty(n)
    reuse = rows.dtype == np.float32 and metric != "cosine" and rows.flags.c_contiguous
    x32 = rows if reuse else np.empty(rows.shape, dtype=np.float32)
    for i in range(0, n, 64):  # row chunks stay in cache
        y = _prepare(rows[i : i + 64], metric)
        sq[i : i + 64] = np.einsum("ij,ij->i", y, y)
        if not reuse:
            x32[i : i + 64] = y
    norms = np.sqrt(sq)
    _check_norms(norms, "database")
    sq32 = sq.astype(np.float32).astype(np.float64)
    column = sq32 if backend == "numpy" and metric == "l2" else None
    norm_max = 1.0 if metric == "cosine" else float(norms.max(initial=0.0))
    return _Block(rows, x32, column, norm_max, sq32)


def _queries(q: np.ndarray, metric: str, backend: str):
    """(exact-distance source rows, float32 scorer rows, shift, norms) of the queries,
    computed in cache-sized row chunks. numpy l2 scores ``(-2q).x`` and the float64 terms
    ``|x|^2`` (the block's column) and ``|q|^2`` (the shift) are added afterwards; numpy
    ip/cosine score ``(-q).x``; faiss returns the distances itself."""
    nq = q.shape[0]
    src = _prepare(q, metric) if metric == "cosine" else q
    q32 = np.empty(q.shape, dtype=np.float32)
    sq = np.empty(nq)
    scale = -2.0 if metric == "l2" else -1.0
    for i in range(0, nq, 64):
        y = np.asarray(src[i : i + 64], dtype=np.float64)
        sq[i : i + 64] = np.einsum("ij,ij->i", y, y)
        q32[i : i + 64] = scale * y if backend == "numpy" else y
    norms = np.ones(nq) if metric == "cosine" else np.sqrt(sq)
    shift = sq if backend == "numpy" and metric == "l2" else np.zeros(nq)
    return src, q32, shift, norms


def _tile_scorer(backend: str, metric: str) -> Callable[..., np.ndarray]:
    """The float32 part of the approximate distances: ``(q32, x32, out) -> scores``.

    ``d~ = scores + column + shift`` (column and shift added in float64).
    """
    if backend == "numpy":
        return lambda q32, x32, out=None: np.matmul(q32, x32.T, out=out)
    faiss = require("faiss", "faiss", "the faiss backend")
    kind = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    if metric == "l2":
        return lambda q32, x32, out=None: faiss.pairwise_distances(q32, x32, metric=kind)
    return lambda q32, x32, out=None: -faiss.pairwise_distances(q32, x32, metric=kind)


def _check_norms(norms: np.ndarray, name: str) -> None:
    if norms.size and norms.max() > MAX_NORM_F32:
        raise InputError(
            f"{name} has a descriptor of norm {norms.max():.3g}, too large for float32 "
            f"ranking (limit {MAX_NORM_F32:g}); scale the descriptors down, e.g. L2-normalise"
        )


def _round_up32(values: np.ndarray) -> np.ndarray:
    """float32 values >= the float64 ``values`` (for selecting supersets)."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = values.astype(np.float32)
        low = out < values
    out[low] = np.nextafter(out[low], np.float32(np.inf))
    return out


def _round_down32(values: np.ndarray) -> np.ndarray:
    """float32 values <= the float64 ``values``."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = values.astype(np.float32)
        high = out > values
    out[high] = np.nextafter(out[high], np.float32(-np.inf))
    return out


def _tie_slack(tau: np.ndarray, margin: np.ndarray, rtol: float) -> np.ndarray:
    """How far above ``tau`` an exact distance can lie and still tie with one <= ``tau``."""
    return 2.0 * rtol * (np.abs(tau) + margin)


def _best_positives(
    q_src: np.ndarray,
    q32: np.ndarray,
    shift: np.ndarray,
    q_norm: np.ndarray,
    database: np.ndarray,
    positives: Positives,
    metric: str,
    backend: str,
    rtol: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per query: d* (NaN without positives), S, and the index of the first tied positive.

    Queries are taken in the order of their first positive, so a chunk of them shares most
    positives when the database is stored in capture order; then one float32 GEMM against
    the union of their positives replaces a per-pair gather. Otherwise (one-to-one ground
    truth, shuffled databases) the float32 distances are computed pair by pair.
    """
    nq, dim = q_src.shape
    d_star = np.full(nq, np.nan)
    n_tied = np.zeros(nq, dtype=np.int64)
    first = np.full(nq, positives.n_database, dtype=np.int64)
    counts = positives.counts
    scored = np.flatnonzero(counts > 0)
    if scored.size == 0:
        return d_star, n_tied, first
    scored = scored[np.argsort(positives.ids[positives.lims[scored]], kind="stable")]
    tile = _tile_scorer(backend, metric)
    chunk = int(np.clip((1 << 19) // dim, 64, 512))
    for c0 in range(0, scored.size, chunk):
        qs = scored[c0 : c0 + chunk]
        n_pos = counts[qs]
        local = np.repeat(np.arange(qs.size), n_pos)
        entry = np.concatenate([np.arange(positives.lims[q], positives.lims[q + 1]) for q in qs])
        ids = positives.ids[entry]
        union, inv = np.unique(ids, return_inverse=True)
        blk = _block(database[union], metric, backend)
        if qs.size * union.size <= _UNION_GEMM_RATIO * ids.size:  # shared positives: one GEMM
            approx = tile(q32[qs], blk.x32)[local, inv].astype(np.float64)
            if blk.column is not None:
                approx += blk.column[inv]
            approx += shift[qs][local]
        else:  # pair by pair, in float32: (-2q).x + |x|^2 + |q|^2 (l2) or -q.x
            qa = q32[qs[local]]
            if backend != "numpy":
                qa *= np.float32(-2.0 if metric == "l2" else -1.0)
            approx = np.einsum("ij,ij->i", qa, blk.x32[inv]).astype(np.float64)
            if metric == "l2":
                approx += blk.sq32[inv]
                approx += (q_norm[qs] ** 2)[local]
        m = float32_margin(dim, q_norm[qs], blk.norm_max, metric)[local]
        starts = np.concatenate(([0], np.cumsum(n_pos)[:-1]))
        best_ub = np.minimum.reduceat(approx + m, starts)
        best_lb = np.minimum.reduceat(approx - m, starts)
        reach = best_ub + 2.0 * rtol * np.maximum(np.abs(best_ub), np.abs(best_lb))
        cand = approx - m <= reach[local]
        cq = local[cand]
        exact = _exact_pairs(q_src, blk.src, qs[cq], inv[cand], metric)
        best = np.full(qs.size, np.inf)
        np.minimum.at(best, cq, exact)
        tied = ties(exact, best[cq], rtol)
        d_star[qs] = best
        n_tied[qs] = np.bincount(cq[tied], minlength=qs.size)
        first_local = np.full(qs.size, positives.n_database, dtype=np.int64)
        np.minimum.at(first_local, cq[tied], ids[cand][tied])
        first[qs] = first_local
    return d_star, n_tied, first


class _Pool:
    """Per query, the database items that may still be among the exact top-k.

    Entries carry float32-derived bounds ``lb <= d <= ub``. ``tau`` is an upper bound on
    the k-th smallest exact distance (the k-th smallest ``ub``, or a bound from elsewhere);
    an entry is dropped once ``lb`` exceeds ``tau`` plus the tie tolerance.
    """

    def __init__(self, nq: int, k: int, keep: int, rtol: float, resolve: Callable) -> None:
        self.k, self.keep, self.rtol, self.resolve = k, keep, rtol, resolve
        self.cap = _POOL_START
        self.max_cap = max(_POOL_MAX, _POOL_KEEP_FACTOR * keep)
        self.lb = np.full((nq, self.cap), np.inf)
        self.ub = np.full((nq, self.cap), np.inf)
        self.ids = np.full((nq, self.cap), -1, dtype=np.int64)
        self.tau = np.full(nq, np.inf)

    def _grow(self, cap: int) -> None:
        extra = cap - self.cap
        nq = self.lb.shape[0]
        self.lb = np.hstack([self.lb, np.full((nq, extra), np.inf)])
        self.ub = np.hstack([self.ub, np.full((nq, extra), np.inf)])
        self.ids = np.hstack([self.ids, np.full((nq, extra), -1, dtype=np.int64)])
        self.cap = cap

    def insert(
        self, rows: np.ndarray, ids: np.ndarray, lb: np.ndarray, ub: np.ndarray, margin: np.ndarray
    ) -> None:
        """Add entries (``rows`` ascending: global query indices); ``margin`` per entry."""
        if rows.size == 0:
            return
        uniq, start, count = np.unique(rows, return_index=True, return_counts=True)
        which = np.repeat(np.arange(uniq.size), count)
        width = self.cap + int(count.max())
        all_lb = np.full((uniq.size, width), np.inf)
        all_ub = np.full((uniq.size, width), np.inf)
        all_id = np.full((uniq.size, width), -1, dtype=np.int64)
        all_lb[:, : self.cap] = self.lb[uniq]
        all_ub[:, : self.cap] = self.ub[uniq]
        all_id[:, : self.cap] = self.ids[uniq]
        col = self.cap + np.arange(rows.size) - np.repeat(start, count)
        all_lb[which, col], all_ub[which, col], all_id[which, col] = lb, ub, ids
        row_margin = np.zeros(uniq.size)
        np.maximum.at(row_margin, which, margin)
        tau = self.tau[uniq]
        if width >= self.k:
            tau = np.minimum(tau, np.partition(all_ub, self.k - 1, axis=1)[:, self.k - 1])
        keep = all_lb <= (tau + _tie_slack(tau, row_margin, self.rtol))[:, None]
        keep &= all_id >= 0
        n_keep = keep.sum(axis=1)
        over = n_keep > self.max_cap
        if over.any():
            self._truncate(uniq, over, keep, all_lb, all_ub, all_id)
            n_keep = keep.sum(axis=1)
        need = int(n_keep.max())
        if need > self.cap:
            self._grow(min(self.max_cap, max(2 * self.cap, need)))
        order = np.argsort(~keep, axis=1, kind="stable")  # kept entries first
        kept = np.take_along_axis(keep, order, axis=1)
        lb = np.where(kept, np.take_along_axis(all_lb, order, axis=1), np.inf)
        ub = np.where(kept, np.take_along_axis(all_ub, order, axis=1), np.inf)
        ids = np.where(kept, np.take_along_axis(all_id, order, axis=1), -1)
        width = min(width, self.cap)  # need <= cap: only dropped entries lie beyond it
        self.lb[uniq] = np.inf
        self.ub[uniq] = np.inf
        self.ids[uniq] = -1
        self.lb[uniq, :width] = lb[:, :width]
        self.ub[uniq, :width] = ub[:, :width]
        self.ids[uniq, :width] = ids[:, :width]
        self.tau[uniq] = tau

    def _truncate(self, uniq, over, keep, all_lb, all_ub, all_id) -> None:
        """Rows with too many near-equal entries: make them exact and keep the best
        ``keep`` by (distance, index), as the top-k does (pathological ties only)."""
        rows_local = np.flatnonzero(over)
        r, c = np.nonzero(keep[rows_local])
        qi = uniq[rows_local][r]
        exact = self.resolve(qi, all_id[rows_local[r], c])
        order = np.lexsort((all_id[rows_local[r], c], exact, r))
        r, c, exact = r[order], c[order], exact[order]
        first = np.searchsorted(r, np.arange(rows_local.size))
        rank_in_row = np.arange(r.size) - first[r]
        keep[rows_local] = False
        best = rank_in_row < self.keep
        keep[rows_local[r[best]], c[best]] = True
        all_lb[rows_local[r], c] = exact
        all_ub[rows_local[r], c] = exact

    def candidates(self) -> tuple[np.ndarray, np.ndarray]:
        """(query, id) of the entries that can still reach the k-th place, by query."""
        slack = _tie_slack(self.tau, np.zeros_like(self.tau), self.rtol)
        r, c = np.nonzero((self.lb <= (self.tau + slack)[:, None]) & (self.ids >= 0))
        return r, self.ids[r, c]


def _finish_topk(
    nq: int, keep: int, k: int, qi: np.ndarray, ids: np.ndarray, exact: np.ndarray, rtol: float
) -> tuple[np.ndarray, np.ndarray]:
    """The ``keep`` best by (exact distance, index) per query, then the first ``k`` with
    items that tie (``rtol``) ordered by index."""
    order = np.lexsort((ids, exact, qi))
    qi, ids, exact = qi[order], ids[order], exact[order]
    place = np.arange(qi.size) - np.searchsorted(qi, np.arange(nq))[qi]
    sel = place < keep
    dist = np.full((nq, keep), np.inf)
    best = np.full((nq, keep), -1, dtype=np.int64)
    dist[qi[sel], place[sel]] = exact[sel]
    best[qi[sel], place[sel]] = ids[sel]
    group = np.zeros(dist.shape, dtype=np.int64)
    leader = dist[:, 0].copy()
    for col in range(1, dist.shape[1]):
        with np.errstate(invalid="ignore"):  # inf pads
            new = ~ties(dist[:, col], leader, rtol) & np.isfinite(dist[:, col])
        group[:, col] = group[:, col - 1] + new
        leader = np.where(new, dist[:, col], leader)
    pad = best < 0
    order = np.lexsort((np.where(pad, np.iinfo(np.int64).max, best), group), axis=1)
    best = np.take_along_axis(best, order, axis=1)[:, :k]
    dist = np.take_along_axis(dist, order, axis=1)[:, :k]
    return best, dist


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


def _single_threaded_blas():
    """Limit BLAS to one thread while it runs many small GEMMs, where synchronising
    threads costs more than it saves (and, on a busy machine, far more). Needs the
    optional ``threadpoolctl``; without it, nothing changes."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _check_inputs(queries, database, positives: Positives, k: int, tie_rtol: float):
    q = as_descriptors(queries, "queries")
    x = check_shape(database if hasattr(database, "dtype") else np.asarray(database), "database")
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


class _Counts:
    """The per-query counts L, tied items, tied items before the first tied positive."""

    def __init__(self, nq: int) -> None:
        self.closer = np.zeros(nq, dtype=np.int64)
        self.tied_all = np.zeros(nq, dtype=np.int64)
        self.tied_before = np.zeros(nq, dtype=np.int64)


@dataclass
class QueryState:
    """What every database shard needs about the queries: their float32 GEMM operand,
    the exact best-positive facts (d*, S, first tied positive) and the settings.

    Built once by :func:`prepare_queries`; :func:`scan_shard` reads it, so it can be
    sent to Dask workers as it is.
    """

    q_src: np.ndarray
    q32: np.ndarray
    shift: np.ndarray
    q_norm: np.ndarray
    d_star: np.ndarray
    n_tied_pos: np.ndarray
    first_tied_pos: np.ndarray
    n_positives: np.ndarray
    n_database: int
    metric: str
    backend: str
    k: int
    tie_rtol: float

    @property
    def has(self) -> np.ndarray:
        return ~np.isnan(self.d_star)

    @property
    def keep(self) -> int:
        return min(self.n_database, self.k + _TOPK_SLACK)


@dataclass
class ShardScan:
    """The additive facts of one database shard: counts relative to the global d*, and
    exact top-k candidates with global database ids (entries of a query contiguous)."""

    closer: np.ndarray
    tied_all: np.ndarray
    tied_before: np.ndarray
    cand_query: np.ndarray
    cand_id: np.ndarray
    cand_dist: np.ndarray


def prepare_queries(
    queries: np.ndarray,
    database,
    positives: Positives,
    *,
    metric: str = "l2",
    k: int = 20,
    tie_rtol: float = 1e-9,
    backend: str = "numpy",
) -> QueryState:
    """Check the inputs and compute the exact best-positive facts of every query.

    ``database`` needs only ``shape``, ``dtype`` and row gathers ``database[ids]`` here
    (the positives' rows), so it may be a view over several shards.
    """
    check_metric(metric)
    if backend not in BACKENDS:
        raise InputError(f"backend {backend!r} is unknown; use one of {', '.join(BACKENDS)}")
    q, x = _check_inputs(queries, database, positives, k, tie_rtol)
    q_src, q32, shift, q_norm = _queries(q, metric, backend)
    _check_norms(q_norm, "queries")
    with _single_threaded_blas():  # many small GEMMs: thread start-up would dominate
        d_star, n_tied_pos, first_tied_pos = _best_positives(
            q_src, q32, shift, q_norm, x, positives, metric, backend, tie_rtol
        )
    return QueryState(
        q_src, q32, shift, q_norm, d_star, n_tied_pos, first_tied_pos,
        positives.counts.astype(np.int64), int(x.shape[0]), metric, backend, int(k),
        float(tie_rtol),
    )  # fmt: skip


def scan_shard(
    state: QueryState,
    shard: np.ndarray,
    offset: int = 0,
    *,
    block_size: int | None = None,
    progress: bool | None = None,
) -> ShardScan:
    """Stream database rows ``offset .. offset + len(shard)`` against every query."""
    x = as_descriptors(shard, "database")
    nq, dim = state.q_src.shape
    if x.shape[1] != dim:
        raise InputError(
            f"a database shard has dim {x.shape[1]} but the queries have dim {dim}; "
            "extract both with the same model"
        )
    n = x.shape[0]
    metric, backend, tie_rtol = state.metric, state.backend, state.tie_rtol
    has = state.has
    tile = _tile_scorer(backend, metric)
    bx = int(block_size) if block_size else max(256, min(n, _SCORE_ELEMENTS // 1024))
    if bx < 1:
        raise InputError(f"block_size = {block_size!r} must be a positive integer")
    if not block_size:  # equal blocks: no small GEMM at the end
        bx = -(-n // -(-n // bx))
    qc = max(1, _SCORE_ELEMENTS // bx)
    qc = -(-nq // -(-nq // qc))
    counts = _Counts(nq)
    pool = _Pool(
        nq, state.k, state.keep, tie_rtol,
        lambda qi, ids: _exact_pairs(state.q_src, x, qi, ids - offset, metric),
    )  # fmt: skip
    safe_d_star = np.where(has, state.d_star, 0.0)
    buffers: dict[tuple[int, int], np.ndarray] = {}

    bar = _progress(-(-n // bx), progress, "ranking")
    for b0 in range(0, n, bx):
        blk = _block(x[b0 : b0 + bx], metric, backend)
        for q0 in range(0, nq, qc):
            rows = slice(q0, min(nq, q0 + qc))
            shape = (rows.stop - rows.start, blk.x32.shape[0])
            if backend == "numpy" and shape not in buffers:
                buffers[shape] = np.empty(shape, dtype=np.float32)
            s = tile(state.q32[rows], blk.x32, buffers.get(shape))
            _scan_tile(s, rows, offset + b0, blk, state.q_src, state.shift, state.q_norm,
                       state.d_star, safe_d_star, has, state.first_tied_pos, counts, pool,
                       metric, tie_rtol, dim)  # fmt: skip
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    cq, cid = pool.candidates()
    exact = _exact_pairs(state.q_src, x, cq, cid - offset, metric)
    return ShardScan(counts.closer, counts.tied_all, counts.tied_before, cq, cid, exact)


def merge_scans(state: QueryState, scans: list[ShardScan]) -> RankingFacts:
    """Add the shards' counts and merge their top-k candidates into the ranking facts."""
    has = state.has
    nq = state.d_star.size
    closer = sum(s.closer for s in scans)
    tied_neg = sum(s.tied_all for s in scans) - state.n_tied_pos
    tied_before = sum(s.tied_before for s in scans)
    if np.any(tied_neg[has] < 0):  # would mean the float32 margin was too small
        raise RuntimeError("internal error: a tied positive fell outside the exact band")
    topk_ids, topk_dist = _finish_topk(
        nq, state.keep, state.k,
        np.concatenate([s.cand_query for s in scans]),
        np.concatenate([s.cand_id for s in scans]),
        np.concatenate([s.cand_dist for s in scans]),
        state.tie_rtol,
    )  # fmt: skip
    zero = np.zeros(nq, dtype=np.int64)
    return RankingFacts(
        d_star=state.d_star,
        closer=np.where(has, closer, zero),
        tied_negatives=np.where(has, tied_neg, zero),
        tied_positives=np.where(has, state.n_tied_pos, zero),
        tied_negatives_before=np.where(has, tied_before, zero),
        n_positives=state.n_positives,
        topk_ids=topk_ids,
        topk_distances=topk_dist,
        n_database=state.n_database,
        metric=state.metric,
        tie_rtol=state.tie_rtol,
    )


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
    ``backend`` ``"numpy"`` (BLAS sgemm) or ``"faiss"`` (faiss's sgemm). The same steps
    run shard by shard in :func:`vprmetrics.ranking.shards.rank_sharded`.
    """
    state = prepare_queries(
        queries, database, positives, metric=metric, k=k, tie_rtol=tie_rtol, backend=backend
    )
    scan = scan_shard(state, database, 0, block_size=block_size, progress=progress)
    return merge_scans(state, [scan])


def _scan_tile(
    s: np.ndarray,
    rows: slice,
    b0: int,
    blk: _Block,
    q_src: np.ndarray,
    shift: np.ndarray,
    q_norm: np.ndarray,
    d_star: np.ndarray,
    safe_d_star: np.ndarray,
    has: np.ndarray,
    first_tied_pos: np.ndarray,
    counts: _Counts,
    pool: _Pool,
    metric: str,
    rtol: float,
    dim: int,
) -> None:
    """Classify one float32 score tile (queries ``rows`` x database block at ``b0``)."""
    nr, nb = s.shape
    sh = shift[rows]
    col_min = col_max = 0.0
    if blk.column is not None:
        col_min, col_max = float(blk.column.min()), float(blk.column.max())
    margin = float32_margin(dim, q_norm[rows], blk.norm_max, metric)
    ds = safe_d_star[rows]
    width = margin + 2.0 * rtol * (np.abs(ds) + margin)
    counted = has[rows]
    lo = np.where(counted, ds - width, -np.inf)
    hi = np.where(counted, ds + width, -np.inf)

    def select(tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        upper = tau + _tie_slack(tau, margin, rtol) + margin
        thr = _round_up32(np.maximum(hi, upper) - sh - col_min)
        return np.less_equal(s, thr[:, None]), upper

    tau = pool.tau[rows]
    mask, upper = select(tau)
    limit = max(nr * nb // _DENSE_TILE, 1)
    n_hit = np.count_nonzero(mask)
    if n_hit > limit and nb >= pool.k:
        kth = np.partition(s, pool.k - 1, axis=1)[:, pool.k - 1].astype(np.float64)
        tau = np.minimum(tau, kth + col_max + sh + margin)
        pool.tau[rows] = tau
        mask, upper = select(tau)
        n_hit = np.count_nonzero(mask)
    lo32 = None
    if n_hit > limit:  # many surely-closer items: count them in passes of their own
        lo32 = _round_down32(lo - sh - col_max)
        below = np.less(s, lo32[:, None])
        counts.closer[rows] += np.count_nonzero(below, axis=1)
        mask &= ~below
        mask |= np.less_equal(s, _round_up32(upper - sh - col_min)[:, None])  # top-k ones
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return
    r, c = np.divmod(idx, nb)
    v32 = s.reshape(-1)[idx]
    v = v32.astype(np.float64)
    if blk.column is not None:
        v += blk.column[c]
    v += sh[r]
    is_closer = v < lo[r]
    if lo32 is None:
        counts.closer[rows] += np.bincount(r[is_closer], minlength=nr)
    else:
        already = v32 < lo32[r]  # counted above
        counts.closer[rows] += np.bincount(r[is_closer & ~already], minlength=nr)
        is_closer |= already
    band = ~is_closer & (v <= hi[r])
    if band.any():
        bq = r[band] + rows.start
        bd = _exact_pairs(q_src, blk.src, bq, c[band], metric)
        bj = c[band] + b0
        is_tie = ties(bd, d_star[bq], rtol)
        tie_closer = (bd < d_star[bq]) & ~is_tie
        nq = counts.closer.size
        counts.closer += np.bincount(bq[tie_closer], minlength=nq)
        counts.tied_all += np.bincount(bq[is_tie], minlength=nq)
        before = is_tie & (bj < first_tied_pos[bq])
        counts.tied_before += np.bincount(bq[before], minlength=nq)
    m = margin[r]
    cand = v <= upper[r]
    per_row = np.bincount(r[cand], minlength=nr)
    dense = np.flatnonzero(per_row > 2 * pool.k + 16)
    if dense.size and nb >= pool.k:  # a loose bound: tighten it with this block's k-th
        kth = np.partition(s[dense], pool.k - 1, axis=1)[:, pool.k - 1].astype(np.float64)
        tau = np.minimum(pool.tau[rows.start + dense], kth + col_max + sh[dense] + margin[dense])
        pool.tau[rows.start + dense] = tau
        upper[dense] = tau + _tie_slack(tau, margin[dense], rtol) + margin[dense]
        cand = v <= upper[r]
    if cand.any():
        pool.insert(r[cand] + rows.start, c[cand] + b0, v[cand] - m[cand], v[cand] + m[cand],
                    m[cand])  # fmt: skip
