"""The per-query candidate pool of the streaming top-k, and the final top-k order.

Entries carry float32-derived bounds ``lb <= d <= ub``; an entry is dropped once its lower
bound exceeds ``tau`` (an upper bound on the k-th smallest exact distance) plus the query's
tie slack ``tie_rtol * s_max`` (``s_max`` bounds every tie scale of the query). At the end
the survivors get their exact distance and :func:`finish_topk` orders them by tie group,
then index.

The top-k order: sort by (exact distance, index); walking that order, an item starts a new
tie group when it does not tie the current group's first item (its leader); items are then
ordered by (group, index). So whatever a group's size and whatever k is, the lowest-index
members of a group come first.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vprmetrics.ranking import limits
from vprmetrics.ranking.distances import ties

__all__ = ["CandidatePool", "finish_topk", "tie_groups"]


class CandidatePool:
    """Per query, the database items that may still be among the exact top-k.

    Entries carry float32-derived bounds ``lb <= d <= ub``. ``tau`` is an upper bound on
    the k-th smallest exact distance (the k-th smallest ``ub``, or a bound from elsewhere);
    an entry is dropped once ``lb`` exceeds ``tau + slack`` (``slack`` per query: how far
    above ``tau`` a distance can lie and still tie with one at most ``tau``).
    ``resolve(qi, ids)`` returns the exact distances and tie scales of pairs.
    """

    def __init__(self, nq: int, k: int, keep: int, slack: np.ndarray, resolve: Callable) -> None:
        self.k, self.keep, self.slack, self.resolve = k, keep, slack, resolve
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

    def insert(self, rows: np.ndarray, ids: np.ndarray, lb: np.ndarray, ub: np.ndarray) -> None:
        """Add entries (``rows`` ascending: global query indices)."""
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
        tau = self.tau[uniq]
        if width >= self.k:
            tau = np.minimum(tau, np.partition(all_ub, self.k - 1, axis=1)[:, self.k - 1])
        keep = all_lb <= (tau + self.slack[uniq])[:, None]
        keep &= all_id >= 0
        n_keep = keep.sum(axis=1)
        over = n_keep > self.max_cap
        if over.any():
            self._truncate(uniq, over, keep, all_lb, all_ub, all_id)
            n_keep = keep.sum(axis=1)
        need = int(n_keep.max())
        if need > self.cap:
            self._grow(max(min(self.max_cap, 2 * self.cap), need))
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
        """Rows with too many near-equal entries: make them exact and drop what can never
        reach the top-k: items beyond the k-th exact distance plus the tie slack (a later
        group), and items with at least k lower-index copies (same exact distance and tie
        scale: never a group leader, always behind those copies). Pathological ties only;
        what survives stays (within ``slack`` of the k-th distance)."""
        rows_local = np.flatnonzero(over)
        r, c = np.nonzero(keep[rows_local])
        qi = uniq[rows_local][r]
        ids = all_id[rows_local[r], c]
        exact, scale = self.resolve(qi, ids)
        order = np.lexsort((ids, scale, exact, r))
        r, c, exact, scale = r[order], c[order], exact[order], scale[order]
        first = np.searchsorted(r, np.arange(rows_local.size))
        kth = exact[np.minimum(first + self.k - 1, np.append(first[1:], r.size) - 1)]
        alive = exact <= kth[r] + self.slack[uniq[rows_local]][r]
        new = np.ones(r.size, dtype=bool)  # first of a run of equal (row, exact, scale)
        new[1:] = (r[1:] != r[:-1]) | (exact[1:] != exact[:-1]) | (scale[1:] != scale[:-1])
        at = np.arange(r.size)
        alive &= at - np.maximum.accumulate(np.where(new, at, 0)) < self.k
        keep[rows_local] = False
        keep[rows_local[r[alive]], c[alive]] = True
        all_lb[rows_local[r], c] = exact
        all_ub[rows_local[r], c] = exact

    def candidates(self) -> tuple[np.ndarray, np.ndarray]:
        """(query, id) of the entries that can still reach the k-th place, by query."""
        r, c = np.nonzero((self.lb <= (self.tau + self.slack)[:, None]) & (self.ids >= 0))
        return r, self.ids[r, c]


def tie_groups(qi: np.ndarray, exact: np.ndarray, scale: np.ndarray, rtol: float, k: int):
    """Tie-group numbers of entries sorted by (query, exact distance, index).

    Walking each query's entries in order, an entry joins the current group when it ties
    the group's leader (``|d - d_lead| <= rtol max(s, s_lead)``), else it leads a new one.
    Groups are numbered until a query's first ``k`` entries are placed; later entries get
    a number past every placed group.

    >>> tie_groups(np.zeros(4, int), np.array([1.0, 1.0, 2.0, 3.0]), np.ones(4), 0.0, 4).tolist()
    [0, 0, 1, 2]
    """
    n = qi.size
    nq = int(qi.max()) + 1 if n else 0
    pos = np.arange(n)
    start = np.searchsorted(qi, np.arange(nq))
    end = np.append(start[1:], n)
    group = np.full(n, np.iinfo(np.int64).max)
    lead = start.copy()
    placed = np.zeros(nq, dtype=np.int64)
    active = end > start
    g = 0
    while active.any():
        sel = active[qi] & (pos >= lead[qi])
        p, q = pos[sel], qi[sel]
        leader = lead[q]
        tied = ties(exact[p], exact[leader], rtol, np.maximum(scale[p], scale[leader]))
        stop = end.copy()
        np.minimum.at(stop, q[~tied], p[~tied])
        inside = p < stop[q]
        group[p[inside]] = g
        placed += stop - np.where(active, lead, stop)
        lead = stop
        active &= (placed < k) & (stop < end)
        g += 1
    return group


def finish_topk(
    nq: int,
    k: int,
    qi: np.ndarray,
    ids: np.ndarray,
    exact: np.ndarray,
    scale: np.ndarray,
    rtol: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``k`` per query by (tie group, index) (:func:`tie_groups`); ``-1`` /
    ``inf`` pads. The candidates must hold every item within the tie slack of the k-th
    exact distance, less items that at least k others surely precede."""
    order = np.lexsort((ids, exact, qi))
    qi, ids, exact, scale = qi[order], ids[order], exact[order], scale[order]
    group = tie_groups(qi, exact, scale, rtol, k)
    order = np.lexsort((ids, group, qi))
    qi, ids, exact = qi[order], ids[order], exact[order]
    place = np.arange(qi.size) - np.searchsorted(qi, np.arange(nq))[qi]
    sel = place < k
    dist = np.full((nq, k), np.inf)
    best = np.full((nq, k), -1, dtype=np.int64)
    dist[qi[sel], place[sel]] = exact[sel]
    best[qi[sel], place[sel]] = ids[sel]
    return best, dist
