"""The positives pass: d*, S and the first tied positive of every query, exactly.

Computed from each query's positives only (never the full database). A float32 GEMM of a
block of queries against the union of their positives gives approximate distances ``d~``
with ``|d~ - d| <= m_q`` (:func:`vprmetrics.ranking.distances.float32_margin`); only the
positives that can still be the best or tie with it (``d~ - m_q <= min(d~ + m_q)`` plus the
tie tolerance) get the exact float64 distance.
"""

from __future__ import annotations

import numpy as np

from vprmetrics.geo.positives import Positives
from vprmetrics.ranking import limits
from vprmetrics.ranking.distances import float32_margin, scale_bound, tie_scale, ties
from vprmetrics.ranking.exact import exact_pairs
from vprmetrics.ranking.tiles import chunked_scores, make_block, tile_scorer

__all__ = ["best_positives"]


def best_positives(
    q_src: np.ndarray,
    q32: np.ndarray,
    shift: np.ndarray,
    q_norm: np.ndarray,
    q_sq: np.ndarray,
    database: np.ndarray,
    positives: Positives,
    metric: str,
    backend: str,
    rtol: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per query: d* (NaN without positives), the tie scale ``s*`` of the lowest-index
    positive at exactly d*, S = #{positives p : |d_p - d*| <= rtol max(s_p, s*)}, and the
    index of the first tied positive.

    Queries are taken in the order of their first positive, so a chunk of them shares most
    positives when the database is stored in capture order; then one float32 GEMM against
    the union of their positives replaces a per-pair gather. Otherwise (one-to-one ground
    truth, shuffled databases) the float32 distances are computed pair by pair.
    """
    nq, dim = q_src.shape
    d_star = np.full(nq, np.nan)
    star_scale = np.zeros(nq)
    n_tied = np.zeros(nq, dtype=np.int64)
    first = np.full(nq, positives.n_database, dtype=np.int64)
    counts = positives.counts
    scored = np.flatnonzero(counts > 0)
    if scored.size == 0:
        return d_star, star_scale, n_tied, first
    scored = scored[np.argsort(positives.ids[positives.lims[scored]], kind="stable")]
    tile = tile_scorer(backend, metric)
    chunk = int(np.clip((1 << 19) // dim, 64, 512))
    for c0 in range(0, scored.size, chunk):
        qs = scored[c0 : c0 + chunk]
        n_pos = counts[qs]
        local = np.repeat(np.arange(qs.size), n_pos)
        entry = np.concatenate([np.arange(positives.lims[q], positives.lims[q + 1]) for q in qs])
        ids = positives.ids[entry]
        union, inv = np.unique(ids, return_inverse=True)
        blk = make_block(database[union], metric, backend)
        gemm_chunk: int | None = None
        if qs.size * union.size <= limits.UNION_GEMM_RATIO * ids.size:  # shared positives: one GEMM
            if backend == "numpy" and dim > limits.CHUNK_MIN_DIM:  # a narrow margin: few exact
                gemm_chunk = limits.GEMM_CHUNK
                approx = chunked_scores(q32[qs], blk.x32, gemm_chunk)[local, inv]
            else:
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
        m = float32_margin(dim, q_norm[qs], blk.norm_max, metric, gemm_chunk)[local]
        starts = np.concatenate(([0], np.cumsum(n_pos)[:-1]))
        best_ub = np.minimum.reduceat(approx + m, starts)
        reach = best_ub + rtol * scale_bound(q_norm[qs], blk.norm_max, metric)
        cand = approx - m <= reach[local]
        cq = local[cand]
        exact = exact_pairs(q_src, blk.src, qs[cq], inv[cand], metric)
        scale = tie_scale(q_sq[qs][cq], blk.sq[inv[cand]], metric)
        best = np.full(qs.size, np.inf)
        np.minimum.at(best, cq, exact)
        at_best = exact == best[cq]  # the lowest-index one sets s* (ids ascending per query)
        star = np.full(qs.size, cq.size, dtype=np.int64)
        np.minimum.at(star, cq[at_best], np.flatnonzero(at_best))
        s_star = scale[star]
        tied = ties(exact, best[cq], rtol, np.maximum(scale, s_star[cq]))
        d_star[qs] = best
        star_scale[qs] = s_star
        n_tied[qs] = np.bincount(cq[tied], minlength=qs.size)
        first_local = np.full(qs.size, positives.n_database, dtype=np.int64)
        np.minimum.at(first_local, cq[tied], ids[cand][tied])
        first[qs] = first_local
    return d_star, star_scale, n_tied, first
