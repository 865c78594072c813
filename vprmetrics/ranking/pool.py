"""The per-query candidate pool of the streaming top-k, and the final top-k order.

Entries carry float32-derived bounds ``lb <= d <= ub``; an entry is dropped once its lower
bound exceeds ``tau`` (an upper bound on the k-th smallest exact distance) plus the tie
tolerance. At the end the survivors get their exact distance and :func:`finish_topk`
orders them by (exact distance, index), tie groups by index.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vprmetrics.ranking import limits
from vprmetrics.ranking.distances import tie_slack, ties

__all__ = ["CandidatePool", "finish_topk"]


class CandidatePool:
    """Per query, the database items that may still be among the exact top-k.

    Entries carry float32-derived bounds ``lb <= d <= ub``. ``tau`` is an upper bound on
    the k-th smallest exact distance (the k-th smallest ``ub``, or a bound from elsewhere);
    an entry is dropped once ``lb`` exceeds ``tau`` plus the tie tolerance.
    """

    def __init__(self, nq: int, k: int, keep: int, rtol: float, resolve: Callable) -> None:
        self.k, self.keep, self.rtol, self.resolve = k, keep, rtol, resolve
        self.cap = limits.POOL_START
        self.max_cap = max(limits.POOL_MAX, limits.POOL_KEEP_FACTOR * keep)
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
        keep = all_lb <= (tau + tie_slack(tau, row_margin, self.rtol))[:, None]
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
        slack = tie_slack(self.tau, np.zeros_like(self.tau), self.rtol)
        r, c = np.nonzero((self.lb <= (self.tau + slack)[:, None]) & (self.ids >= 0))
        return r, self.ids[r, c]


def finish_topk(
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
