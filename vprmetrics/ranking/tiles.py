"""Tile scoring: one float32 GEMM tile of queries x a database block, classified.

A float32 GEMM gives approximate distances ``d~`` for a tile; :func:`scan_tile` decides
from them, with the proven margin ``m_q`` (:func:`vprmetrics.ranking.distances.float32_margin`),
what is surely closer than ``d*`` (counted), what lies in the band around ``d*`` (re-decided
in float64) and what may still be in the top-k (kept in the pool). One pass over the tile
selects everything that is not surely farther; nothing else is kept, so memory is
O(tile + queries x pool), never queries x database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vprmetrics.errors import InputError, require
from vprmetrics.ranking import limits
from vprmetrics.ranking.distances import (
    MAX_NORM_F32,
    float32_margin,
    round_down32,
    round_up32,
    scale_bound,
    tie_scale,
    ties,
)
from vprmetrics.ranking.exact import exact_pairs, prepare_rows, row_sq_norms
from vprmetrics.ranking.pool import CandidatePool
from vprmetrics.ranking.state import Counts, QueryState

__all__ = [
    "Block",
    "TileContext",
    "band_share",
    "check_norms",
    "chunked_scores",
    "make_block",
    "prepare_query_rows",
    "scan_tile",
    "tile_scorer",
]


@dataclass
class Block:
    """A database block ready for scoring: its rows as given (exact distances re-read
    them), the float32 GEMM operand, the per-column float64 term added to the GEMM
    (``|x|^2`` for numpy l2, else None), the largest norm, ``|x|^2`` rounded to float32
    (as float64), and ``|x|^2`` in float64 (for the tie scales)."""

    src: np.ndarray
    x32: np.ndarray
    column: np.ndarray | None
    norm_max: float
    sq32: np.ndarray
    sq: np.ndarray


def make_block(rows: np.ndarray, metric: str, backend: str) -> Block:
    rows = np.asarray(rows)
    n = rows.shape[0]
    sq = np.empty(n)
    reuse = rows.dtype == np.float32 and metric != "cosine" and rows.flags.c_contiguous
    x32 = rows if reuse else np.empty(rows.shape, dtype=np.float32)
    for i in range(0, n, 64):  # row chunks stay in cache
        y = prepare_rows(rows[i : i + 64], metric)
        sq[i : i + 64] = row_sq_norms(y)
        if not reuse:
            x32[i : i + 64] = y
    norms = np.sqrt(sq)
    check_norms(norms, "database")
    sq32 = sq.astype(np.float32).astype(np.float64)
    column = sq32 if backend == "numpy" and metric == "l2" else None
    norm_max = 1.0 if metric == "cosine" else float(norms.max(initial=0.0))
    return Block(rows, x32, column, norm_max, sq32, sq)


def prepare_query_rows(q: np.ndarray, metric: str, backend: str):
    """(exact-distance source rows, float32 scorer rows, shift, norms, ``|q|^2``) of the queries,
    computed in cache-sized row chunks. numpy l2 scores ``(-2q).x`` and the float64 terms
    ``|x|^2`` (the block's column) and ``|q|^2`` (the shift) are added afterwards; numpy
    ip/cosine score ``(-q).x``; faiss returns the distances itself."""
    nq = q.shape[0]
    src = prepare_rows(q, metric) if metric == "cosine" else q
    q32 = np.empty(q.shape, dtype=np.float32)
    sq = np.empty(nq)
    scale = -2.0 if metric == "l2" else -1.0
    for i in range(0, nq, 64):
        y = np.asarray(src[i : i + 64], dtype=np.float64)
        sq[i : i + 64] = row_sq_norms(y)
        q32[i : i + 64] = scale * y if backend == "numpy" else y
    norms = np.ones(nq) if metric == "cosine" else np.sqrt(sq)
    shift = sq if backend == "numpy" and metric == "l2" else np.zeros(nq)
    return src, q32, shift, norms, sq


def tile_scorer(backend: str, metric: str) -> Callable[..., np.ndarray]:
    """The float32 part of the approximate distances: ``(q32, x32, out) -> scores``.

    ``d~ = scores + column + shift`` (column and shift added in float64).
    """
    if backend == "numpy":
        return lambda q32, x32, out=None: np.matmul(q32, x32.T, out=out)
    if backend == "torch":  # the faiss convention: the scorer returns d~ itself
        from vprmetrics.ranking.torch_backend import torch_scorer

        return torch_scorer(metric)
    faiss = require("faiss", "faiss", "the faiss backend")
    kind = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    if metric == "l2":
        return lambda q32, x32, out=None: faiss.pairwise_distances(q32, x32, metric=kind)
    return lambda q32, x32, out=None: -faiss.pairwise_distances(q32, x32, metric=kind)


def chunked_scores(q32: np.ndarray, x32: np.ndarray, chunk: int) -> np.ndarray:
    """``q32 @ x32.T`` as the float64 sum of float32 GEMMs over inner-dimension chunks of
    length ``chunk``: its proven error bound scales with ``chunk``, not the dimension
    (:func:`vprmetrics.ranking.distances.float32_margin` with ``chunk``).

    >>> q = np.ones((1, 5), np.float32); float(chunked_scores(q, q, 2)[0, 0])
    5.0
    """
    acc = np.zeros((q32.shape[0], x32.shape[0]))
    part = np.empty(acc.shape, dtype=np.float32)
    for k0 in range(0, q32.shape[1], chunk):
        np.matmul(q32[:, k0 : k0 + chunk], x32[:, k0 : k0 + chunk].T, out=part)
        acc += part
    return acc


def check_norms(norms: np.ndarray, name: str) -> None:
    """Refuse rows with NaN or inf (their norm is not finite) and norms float32 cannot rank."""
    finite = np.isfinite(norms)
    if not finite.all():
        raise InputError(
            f"{name} has a descriptor with NaN or inf (row {int(np.argmin(finite))} of its "
            "block); recompute or repair those descriptors"
        )
    if norms.size and norms.max() > MAX_NORM_F32:
        raise InputError(
            f"{name} has a descriptor of norm {norms.max():.3g}, too large for float32 "
            f"ranking (limit {MAX_NORM_F32:g}); scale the descriptors down, e.g. L2-normalise"
        )


@dataclass
class TileContext:
    """Where a tile sits and what it updates: the query state, the database block, the
    tile's query rows, the global id of the block's first row, the counts and the pool."""

    state: QueryState
    block: Block
    rows: slice
    offset: int
    counts: Counts
    pool: CandidatePool
    chunk: int | None = None  # the inner-dimension chunk of the scores, if chunked


def band_share(state: QueryState, blk: Block, rows: slice, tile: Callable) -> float:
    """The share of (query, item) pairs of ``rows`` x ``blk`` inside the float32 band
    around d* (what an unchunked scan would re-decide in float64)."""
    v = tile(state.q32[rows], blk.x32).astype(np.float64)
    if blk.column is not None:
        v += blk.column
    v += state.shift[rows, None]
    m = float32_margin(state.q_src.shape[1], state.q_norm[rows], blk.norm_max, state.metric)
    scale = scale_bound(state.q_norm[rows], blk.norm_max, state.metric)
    width = m + state.tie_rtol * np.maximum(scale, state.star_scale[rows])
    ds = np.where(state.has[rows], state.d_star[rows], np.inf)
    return float(np.count_nonzero(np.abs(v - ds[:, None]) <= width[:, None])) / max(v.size, 1)


def scan_tile(s: np.ndarray, ctx: TileContext) -> int:
    """Classify one float32 score tile (queries ``ctx.rows`` x the block at ``ctx.offset``).

    With ``d~ = s + column + shift`` and the band half-width
    ``w = m_q + tie_rtol max(s_max, s*)`` (``s_max`` a bound on the block's tie scales,
    ``s*`` the best positive's): ``d~ < d* - w`` counts in ``L``;
    ``|d~ - d*| <= w`` is re-decided in float64; ``d~ - m_q <= tau_q`` enters the pool.
    ``s`` is float32, or float64 from :func:`chunked_scores`. Returns the number of entries
    re-decided in float64 (the band).
    """
    state, blk, rows, b0 = ctx.state, ctx.block, ctx.rows, ctx.offset
    counts, pool, rtol, metric = ctx.counts, ctx.pool, state.tie_rtol, state.metric
    q_src, d_star, first_tied_pos = state.q_src, state.d_star, state.first_tied_pos
    nr, nb = s.shape
    sh = state.shift[rows]
    col_min = col_max = 0.0
    if blk.column is not None:
        col_min, col_max = float(blk.column.min()), float(blk.column.max())
    margin = float32_margin(q_src.shape[1], state.q_norm[rows], blk.norm_max, metric, ctx.chunk)
    counted = state.has[rows]
    ds = np.where(counted, d_star[rows], 0.0)
    star_scale = np.where(counted, state.star_scale[rows], 0.0)
    block_scale = scale_bound(state.q_norm[rows], blk.norm_max, metric)
    width = margin + rtol * np.maximum(block_scale, star_scale)
    lo = np.where(counted, ds - width, -np.inf)
    hi = np.where(counted, ds + width, -np.inf)
    slack = pool.slack[rows]

    def select(tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        upper = tau + slack + margin
        thr = round_up32(np.maximum(hi, upper) - sh - col_min)
        return np.less_equal(s, thr[:, None]), upper

    tau = pool.tau[rows]
    mask, upper = select(tau)
    limit = max(nr * nb // limits.DENSE_TILE, 1)
    n_hit = np.count_nonzero(mask)
    if n_hit > limit and nb >= pool.k:
        kth = np.partition(s, pool.k - 1, axis=1)[:, pool.k - 1].astype(np.float64)
        tau = np.minimum(tau, kth + col_max + sh + margin)
        pool.tau[rows] = tau
        mask, upper = select(tau)
        n_hit = np.count_nonzero(mask)
    lo32 = None
    if n_hit > limit:  # many surely-closer items: count them in passes of their own
        lo32 = round_down32(lo - sh - col_max)
        below = np.less(s, lo32[:, None])
        counts.closer[rows] += np.count_nonzero(below, axis=1)
        mask &= ~below
        mask |= np.less_equal(s, round_up32(upper - sh - col_min)[:, None])  # top-k ones
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return 0
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
    n_band = int(np.count_nonzero(band))
    if n_band:
        bq = r[band] + rows.start
        bd = exact_pairs(q_src, blk.src, bq, c[band], metric)
        bj = c[band] + b0
        scale = np.maximum(tie_scale(state.q_sq[bq], blk.sq[c[band]], metric), state.star_scale[bq])
        is_tie = ties(bd, d_star[bq], rtol, scale)
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
        upper[dense] = tau + slack[dense] + margin[dense]
        cand = v <= upper[r]
    if cand.any():
        pool.insert(r[cand] + rows.start, c[cand] + b0, v[cand] - m[cand], v[cand] + m[cand])
    return n_band
