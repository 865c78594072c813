"""The exact streaming ranking engine: descriptors + ground truth -> ranking facts.

This module drives the scan; its steps live beside it: the positives pass
(:mod:`~vprmetrics.ranking.best_positive`), tile scoring (:mod:`~vprmetrics.ranking.tiles`),
the candidate pool and top-k (:mod:`~vprmetrics.ranking.pool`), exact float64 distances
(:mod:`~vprmetrics.ranking.exact`) and the size limits (:mod:`~vprmetrics.ranking.limits`).

Algorithm (docs/metrics.md, "The engine"), for every query ``q``:

1. ``d*``, ``S`` and the first tied positive come from the query's positives only (never
   the full database). A float32 GEMM of a block of queries against the union of their
   positives gives approximate distances ``d~`` with ``|d~ - d| <= m_q``
   (:func:`vprmetrics.ranking.distances.float32_margin`); only the positives that can still be the
   best or tie with it (``d~ - m_q <= min(d~ + m_q)`` plus the tie tolerance) get the exact
   float64 distance.
2. The database streams in blocks. A float32 GEMM gives ``d~`` for a tile of queries x
   block. With the band half-width ``w = m_q + tie_rtol max(s_max, s*)`` (``s_max`` bounds
   the block's tie scales, ``s*`` is the best positive's):

   * ``d~ < d* - w``: surely a negative strictly closer than ``d*`` -> counted in ``L``;
   * ``|d~ - d*| <= w``: re-decided with the exact float64 distance (closer, tied, or not);
   * ``d~ - m_q <= tau_q`` (``tau_q`` an upper bound on the k-th smallest distance, plus the
     tie tolerance): kept in a per-query pool with its bounds ``d~ -+ m_q``.

   One pass over the tile (``d~ <= max(d* + w, tau_q + m_q)``) selects everything that is
   not surely farther; the selected entries are classified in float64. Nothing else is
   kept: memory is O(tile + queries x pool), never queries x database.
3. The pool entries whose lower bound can still reach the k-th place (plus the tie slack
   ``tie_rtol s_max``, ``s_max`` from the largest database norm) get their exact distance
   at the end; the top-k is the first k by (tie group, index) among them, whatever a tie
   group's size (:func:`vprmetrics.ranking.pool.finish_topk`).
4. ``T = (tied items) - S``. Every exact distance is computed by the same row-wise
   function (:func:`vprmetrics.ranking.exact.exact_segments`), so a positive is never
   counted as a negative and identical database rows always tie.

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
import sys

import numpy as np

from vprmetrics.checks import as_descriptors, check_shape
from vprmetrics.errors import InputError, InputTypeError
from vprmetrics.geo.positives import Positives
from vprmetrics.ranking import limits
from vprmetrics.ranking.best_positive import best_positives
from vprmetrics.ranking.distances import check_metric, scale_bound, tie_scale
from vprmetrics.ranking.exact import exact_pairs, max_row_norm
from vprmetrics.ranking.facts import RankingFacts
from vprmetrics.ranking.pool import CandidatePool, finish_topk
from vprmetrics.ranking.state import Counts, QueryState, ShardScan
from vprmetrics.ranking.tiles import (
    TileContext,
    band_share,
    check_norms,
    chunked_scores,
    make_block,
    prepare_query_rows,
    scan_tile,
    tile_scorer,
)

__all__ = [
    "BACKENDS",
    "QueryState",
    "ShardScan",
    "merge_scans",
    "prepare_queries",
    "rank",
    "scan_shard",
]

BACKENDS: tuple[str, ...] = ("numpy", "faiss", "torch")


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
    q_src, q32, shift, q_norm, q_sq = prepare_query_rows(q, metric, backend)
    check_norms(q_norm, "queries")
    with _single_threaded_blas():  # many small GEMMs: thread start-up would dominate
        d_star, star_scale, n_tied_pos, first_tied_pos = best_positives(
            q_src, q32, shift, q_norm, q_sq, x, positives, metric, backend, tie_rtol
        )
    return QueryState(
        q_src, q32, shift, q_norm, q_sq, d_star, star_scale, n_tied_pos, first_tied_pos,
        positives.counts.astype(np.int64), int(x.shape[0]), max_row_norm(x, metric), metric,
        backend, int(k), float(tie_rtol),
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
    tile = tile_scorer(backend, metric)
    bx = int(block_size) if block_size else max(256, min(n, limits.SCORE_ELEMENTS // 1024))
    if bx < 1:
        raise InputError(f"block_size = {block_size!r} must be a positive integer")
    if not block_size:  # equal blocks: no small GEMM at the end
        bx = -(-n // -(-n // bx))
    qc = max(1, limits.SCORE_ELEMENTS // bx)
    qc = -(-nq // -(-nq // qc))
    counts = Counts(nq)
    slack = tie_rtol * scale_bound(state.q_norm, state.x_norm_max, metric)
    pool = CandidatePool(
        nq, state.k, state.keep, slack,
        lambda qi, ids: _scaled(state, x, x_sq, qi, ids - offset),
    )  # fmt: skip
    buffers: dict[tuple[int, int], np.ndarray] = {}
    x_sq = np.empty(n)
    # a dense band (weak models, large dim): split the GEMM's inner dimension so the proven
    # float32 bound, and with it the band, shrinks by dim / GEMM_CHUNK (same facts)
    chunk: int | None = None
    decided = backend != "numpy" or dim <= limits.CHUNK_MIN_DIM or limits.GEMM_CHUNK >= dim

    bar = _progress(-(-n // bx), progress, "ranking")
    for b0 in range(0, n, bx):
        blk = make_block(x[b0 : b0 + bx], metric, backend)
        x_sq[b0 : b0 + bx] = blk.sq  # the rows' |x|^2, as the band's tie scales use them
        if not decided:  # probe a few queries before paying for a dense band
            decided = True
            share = band_share(state, blk, slice(0, min(nq, limits.CHUNK_PROBE)), tile)
            if share > limits.CHUNK_BAND_SHARE:  # the band shrinks about linearly with chunk
                want = dim * limits.CHUNK_TARGET_SHARE / max(share, 1e-300)
                chunk = max(limits.GEMM_CHUNK, 1 << max(0, int(np.log2(max(want, 1.0)))))
                chunk = chunk if chunk < dim else None
        for q0 in range(0, nq, qc):
            rows = slice(q0, min(nq, q0 + qc))
            shape = (rows.stop - rows.start, blk.x32.shape[0])
            if chunk is not None:
                s = chunked_scores(state.q32[rows], blk.x32, chunk)
            else:
                if backend == "numpy" and shape not in buffers:
                    buffers[shape] = np.empty(shape, dtype=np.float32)
                s = tile(state.q32[rows], blk.x32, buffers.get(shape))
            scan_tile(s, TileContext(state, blk, rows, offset + b0, counts, pool, chunk))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    cq, cid = pool.candidates()
    exact, scale = _scaled(state, x, x_sq, cq, cid - offset)
    return ShardScan(counts.closer, counts.tied_all, counts.tied_before, cq, cid, exact, scale)


def _scaled(state: QueryState, x, x_sq: np.ndarray, qi: np.ndarray, rows: np.ndarray):
    """Exact distances of pairs (query ``qi``, shard row ``rows``) and their tie scales,
    from the ``|x|^2`` the blocks computed (no second pass over the rows)."""
    d = exact_pairs(state.q_src, x, qi, rows, state.metric)
    return d, tie_scale(state.q_sq[qi], x_sq[rows], state.metric)


def merge_scans(state: QueryState, scans: list[ShardScan]) -> RankingFacts:
    """Add the shards' counts and merge their top-k candidates into the ranking facts."""
    has = state.has
    nq = state.d_star.size
    closer = sum(s.closer for s in scans)
    tied_neg = sum(s.tied_all for s in scans) - state.n_tied_pos
    tied_before = sum(s.tied_before for s in scans)
    if np.any(tied_neg[has] < 0):  # would mean the float32 margin was too small
        raise RuntimeError("internal error: a tied positive fell outside the exact band")
    topk_ids, topk_dist = finish_topk(
        nq, state.k,
        np.concatenate([s.cand_query for s in scans]),
        np.concatenate([s.cand_id for s in scans]),
        np.concatenate([s.cand_dist for s in scans]),
        np.concatenate([s.cand_scale for s in scans]),
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
    database_groups=None,
    query_groups=None,
) -> RankingFacts:
    """Rank ``database`` for every query exactly and return the :class:`RankingFacts`.

    ``queries`` (nq, dim) and ``database`` (n, dim) are float arrays (``database`` may be a
    memory-mapped ``.npy``); ``positives`` the ground truth; ``k`` the length of the
    exact top-k list (at least the largest N you will ask for); ``block_size`` the
    database rows per block (default: about 16 MB of float32 scores per tile);
    ``backend`` ``"numpy"`` (BLAS sgemm) or ``"faiss"`` (faiss's sgemm). The same steps
    run shard by shard in :func:`vprmetrics.ranking.shards.rank_sharded`.
    ``database_groups`` / ``query_groups`` (one label per row, each group's rows
    consecutive) rank groups instead of items, by the minimum over member pairs
    (:func:`vprmetrics.ranking.groups.rank_groups`); ``positives`` is then over groups.
    """
    if database_groups is not None or query_groups is not None:
        from vprmetrics.ranking.groups import rank_groups

        return rank_groups(
            queries, database, positives, database_groups=database_groups,
            query_groups=query_groups, metric=metric, k=k, tie_rtol=tie_rtol,
            block_size=block_size, backend=backend,
        )  # fmt: skip
    state = prepare_queries(
        queries, database, positives, metric=metric, k=k, tie_rtol=tie_rtol, backend=backend
    )
    scan = scan_shard(state, database, 0, block_size=block_size, progress=progress)
    return merge_scans(state, [scan])
