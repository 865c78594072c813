"""Group ranking: several descriptors per place, ranked as one item (min-reduction).

Some protocols rank groups, not images: Tokyo 24/7 as NetVLAD scores it ranks a database
panorama by the closest of its 12 cutouts, and the VG benchmark's ``nearest_crop`` gives a
query several crops and keeps the closest. Groups are contiguous row ranges (labels
``0, 0, ..., 1, 1, ...``). The distance between query group ``a`` and database group ``g``
is the minimum over member pairs,

    D(a, g) = min_{i in a, j in g} d(q_i, x_j),

and its tie scale is that of the pair that attains it (the lowest database row, then the
lowest query row, among exact minimisers). Everything else is the single-item semantics
over groups: d* = min over positive groups, L, T, S and B count distinct groups, two
groups tie as two items do (``|D - D'| <= tie_rtol max(s, s')``), the top-k lists group
ids, and Recall@K% and PSSR use the number of database groups. A group of one is an item:
singleton groups give exactly the facts of :func:`vprmetrics.ranking.engine.rank`.

The scan streams blocks of whole database groups against chunks of whole query groups. A
float32 GEMM gives every member pair's approximate distance within the proven margin
``m`` (:func:`vprmetrics.ranking.distances.float32_margin`); the minimum over a group's
members is then within ``max m`` of the exact minimum, so the same band rules decide which
groups are surely closer, which are re-decided exactly (every member pair in float64) and
which may enter the top-k pool. Memory is O(tile + query groups x pool).

>>> import numpy as np
>>> from vprmetrics.geo.positives import Positives
>>> db = np.array([[5.0], [0.9], [3.0], [2.0]]); q = np.array([[1.0]])
>>> f = rank_groups(q, db, Positives.from_lists([[1]], 2), database_groups=[0, 0, 1, 1], k=2)
>>> f.closer.tolist(), f.topk_ids.tolist(), f.n_database
([1], [[0, 1]], 2)
"""

from __future__ import annotations

import numpy as np

from vprmetrics.checks import as_descriptors, check_shape
from vprmetrics.errors import InputError, InputTypeError
from vprmetrics.geo.positives import Positives
from vprmetrics.ranking import limits
from vprmetrics.ranking.distances import check_metric, float32_margin, scale_bound, ties
from vprmetrics.ranking.exact import exact_pairs_scaled, max_row_norm
from vprmetrics.ranking.facts import RankingFacts
from vprmetrics.ranking.pool import CandidatePool, finish_topk
from vprmetrics.ranking.tiles import check_norms, make_block, prepare_query_rows, tile_scorer

__all__ = ["group_lims", "rank_groups"]


def group_lims(labels, n: int, name: str) -> np.ndarray:
    """CSR bounds ``lims`` (groups ``lims[g]:lims[g+1]``) of per-row group labels, which
    must be ``0, 1, 2, ...`` in order of their rows, each group's rows consecutive.

    >>> group_lims([0, 0, 1, 2, 2], 5, "database groups").tolist()
    [0, 2, 3, 5]
    """
    if labels is None:
        return np.arange(n + 1, dtype=np.int64)
    g = np.asarray(labels)
    if g.dtype == object or not np.issubdtype(g.dtype, np.integer):
        raise InputTypeError(f"{name} has dtype {g.dtype}, expected integer group labels")
    if g.shape != (n,):
        raise InputError(f"{name} has shape {g.shape}, expected ({n},): one label per row")
    step = np.diff(g.astype(np.int64))
    if n and (g[0] != 0 or np.any((step != 0) & (step != 1))):
        raise InputError(
            f"{name} must number groups 0, 1, 2, ... with each group's rows consecutive; "
            "sort the rows by group (stable) and renumber the groups in that order"
        )
    return np.concatenate(([0], np.flatnonzero(step) + 1, [n])).astype(np.int64)


class _Groups:
    """The member rows of query and database groups, and exact group distances."""

    def __init__(self, q_src, q_sq, x, qlims, xlims, metric: str) -> None:
        self.q_src, self.q_sq, self.x, self.metric = q_src, q_sq, x, metric
        self.qlims, self.xlims = qlims, xlims

    def exact(self, a: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(D(a_i, g_i), tie scale of the minimising pair) for group pairs ``(a, g)``."""
        out_d, out_s = np.empty(a.size), np.empty(a.size)
        nq, nx = np.diff(self.qlims)[a], np.diff(self.xlims)[g]
        sizes = nq * nx
        csum = np.cumsum(sizes)
        step = max(1, limits.EXACT_ELEMENTS // 8)
        start = 0
        while start < a.size:  # chunks of pairs with a bounded number of member pairs
            base = int(csum[start - 1]) if start else 0
            stop = max(start + 1, int(np.searchsorted(csum, base + step, side="right")))
            part = slice(start, min(stop, a.size))
            out_d[part], out_s[part] = self._exact(a[part], g[part], nx[part], sizes[part])
            start = part.stop
        return out_d, out_s

    def _exact(self, a, g, nx, sizes):
        pair = np.repeat(np.arange(a.size), sizes)
        offs = np.arange(pair.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        qrow = self.qlims[a][pair] + offs // nx[pair]
        xrow = self.xlims[g][pair] + offs % nx[pair]
        order = np.argsort(qrow, kind="stable")
        d = np.empty(pair.size)
        s = np.empty(pair.size)
        d[order], s[order] = exact_pairs_scaled(
            self.q_src, self.q_sq, self.x, qrow[order], xrow[order], self.metric
        )
        best = np.lexsort((qrow, xrow, d, pair))
        first = best[np.searchsorted(pair[best], np.arange(a.size))]
        return d[first], s[first]


def _check(q, x, positives, k, tie_rtol, nqg, nxg):
    if q.shape[1] != x.shape[1]:
        raise InputError(
            f"queries have dim {q.shape[1]} but database has dim {x.shape[1]}; "
            "extract both with the same model"
        )
    if not isinstance(positives, Positives):
        raise InputTypeError(
            f"positives must be a vprmetrics.Positives, got {type(positives).__name__}"
        )
    if positives.n_queries != nqg or positives.n_database != nxg:
        raise InputError(
            f"ground truth is for {positives.n_queries} x {positives.n_database} but there "
            f"are {nqg} query groups x {nxg} database groups; give the ground truth over groups"
        )
    if isinstance(k, bool) or int(k) != k or not 1 <= k <= nxg:
        raise InputError(f"k = {k!r} must be an integer in [1, {nxg}] (the database groups)")
    if not 0.0 <= tie_rtol < 1e-3:
        raise InputError(f"tie_rtol = {tie_rtol!r} must be in [0, 1e-3); the default is 1e-9")


def _spans(lims: np.ndarray, rows: int) -> list[tuple[int, int]]:
    """Runs of whole groups (group index ranges) of about ``rows`` rows each."""
    out, g0, ng = [], 0, lims.size - 1
    while g0 < ng:
        g1 = int(np.searchsorted(lims, lims[g0] + rows, side="right")) - 1
        g1 = min(max(g1, g0 + 1), ng)
        out.append((g0, g1))
        g0 = g1
    return out


def rank_groups(
    queries: np.ndarray,
    database: np.ndarray,
    positives: Positives,
    *,
    database_groups=None,
    query_groups=None,
    metric: str = "l2",
    k: int = 20,
    tie_rtol: float = 1e-9,
    block_size: int | None = None,
    backend: str = "numpy",
) -> RankingFacts:
    """The ranking facts of query groups against database groups (see the module doc).

    ``database_groups`` / ``query_groups``: one integer label per row (``None``: every row
    is its own group); ``positives`` is over groups; ``block_size`` the database rows per
    block (whole groups).
    """
    check_metric(metric)
    q = as_descriptors(queries, "queries")
    x = check_shape(database if hasattr(database, "dtype") else np.asarray(database), "database")
    qlims = group_lims(query_groups, q.shape[0], "query groups")
    xlims = group_lims(database_groups, x.shape[0], "database groups")
    nqg, nxg = qlims.size - 1, xlims.size - 1
    _check(q, x, positives, k, tie_rtol, nqg, nxg)

    q_src, q32, shift, q_norm, q_sq = prepare_query_rows(q, metric, backend)
    check_norms(q_norm, "queries")
    groups = _Groups(q_src, q_sq, x, qlims, xlims, metric)
    qn_max = np.maximum.reduceat(q_norm, qlims[:-1])
    x_norm_max = max_row_norm(x, metric)

    # d*, s*, S and the first tied positive group, from every member pair of the positives
    has = positives.has_positive
    pa, pg = positives.query_of_entry, positives.ids
    pd, ps = groups.exact(pa, pg)
    d_star = np.full(nqg, np.inf)
    np.minimum.at(d_star, pa, pd)
    at = np.flatnonzero(pd == d_star[pa])  # the lowest positive group at exactly d* sets s*
    star = np.full(nqg, max(pd.size - 1, 0), dtype=np.int64)
    np.minimum.at(star, pa[at], at)
    s_star = np.where(has, ps[star], 0.0) if pd.size else np.zeros(nqg)
    tied = ties(pd, d_star[pa], tie_rtol, np.maximum(ps, s_star[pa]))
    n_tied_pos = np.bincount(pa[tied], minlength=nqg)
    first_tied = np.full(nqg, nxg, dtype=np.int64)
    np.minimum.at(first_tied, pa[tied], pg[tied])
    d_star = np.where(has, d_star, np.nan)

    closer = np.zeros(nqg, dtype=np.int64)
    tied_all = np.zeros(nqg, dtype=np.int64)
    tied_before = np.zeros(nqg, dtype=np.int64)
    keep = min(nxg, int(k) + limits.TOPK_SLACK)
    slack = tie_rtol * scale_bound(qn_max, x_norm_max, metric)
    pool = CandidatePool(nqg, int(k), keep, slack, groups.exact)
    tile = tile_scorer(backend, metric)
    bx = int(block_size) if block_size else max(256, limits.SCORE_ELEMENTS // 1024)
    dim = q.shape[1]
    for g0, g1 in _spans(xlims, bx):
        blk = make_block(x[xlims[g0] : xlims[g1]], metric, backend)
        cols = xlims[g0:g1] - xlims[g0]
        qrows = max(1, limits.SCORE_ELEMENTS // blk.x32.shape[0])
        for a0, a1 in _spans(qlims, qrows):
            rows = slice(int(qlims[a0]), int(qlims[a1]))
            v = tile(q32[rows], blk.x32).astype(np.float64)
            if blk.column is not None:
                v += blk.column
            v += shift[rows, None]
            v = np.minimum.reduceat(v, cols, axis=1)
            v = np.minimum.reduceat(v, qlims[a0:a1] - qlims[a0], axis=0)
            m = float32_margin(dim, q_norm[rows], blk.norm_max, metric)
            m = np.maximum.reduceat(m, qlims[a0:a1] - qlims[a0])
            a = np.arange(a0, a1)
            ok = has[a]
            ds = np.where(ok, d_star[a], 0.0)
            scale = np.maximum(scale_bound(qn_max[a], blk.norm_max, metric), s_star[a])
            width = m + tie_rtol * scale
            lo = np.where(ok, ds - width, -np.inf)[:, None]
            hi = np.where(ok, ds + width, -np.inf)[:, None]
            closer[a] += np.count_nonzero(v < lo, axis=1)
            r, c = np.nonzero((v >= lo) & (v <= hi))
            if r.size:
                ba, bg = a[r], c + g0
                bd, bs = groups.exact(ba, bg)
                is_tie = ties(bd, d_star[ba], tie_rtol, np.maximum(bs, s_star[ba]))
                closer += np.bincount(ba[(bd < d_star[ba]) & ~is_tie], minlength=nqg)
                tied_all += np.bincount(ba[is_tie], minlength=nqg)
                tied_before += np.bincount(ba[is_tie & (bg < first_tied[ba])], minlength=nqg)
            if v.shape[1] >= pool.k:  # tighten tau with this tile's k-th group first
                kth = np.partition(v, pool.k - 1, axis=1)[:, pool.k - 1]
                pool.tau[a] = np.minimum(pool.tau[a], kth + m)
            upper = pool.tau[a] + slack[a] + m
            r, c = np.nonzero(v <= upper[:, None])
            if r.size:
                pool.insert(a[r], c + g0, v[r, c] - m[r], v[r, c] + m[r])
    cq, cid = pool.candidates()
    cd, cs = groups.exact(cq, cid)
    tied_neg = tied_all - n_tied_pos
    if np.any(tied_neg[has] < 0):
        raise RuntimeError("internal error: a tied positive group fell outside the exact band")
    topk_ids, topk_dist = finish_topk(nqg, int(k), cq, cid, cd, cs, tie_rtol)
    zero = np.zeros(nqg, dtype=np.int64)
    return RankingFacts(
        d_star=d_star,
        closer=np.where(has, closer, zero),
        tied_negatives=np.where(has, tied_neg, zero),
        tied_positives=np.where(has, n_tied_pos, zero),
        tied_negatives_before=np.where(has, tied_before, zero),
        n_positives=positives.counts.astype(np.int64),
        topk_ids=topk_ids,
        topk_distances=topk_dist,
        n_database=nxg,
        metric=metric,
        tie_rtol=float(tie_rtol),
    )
