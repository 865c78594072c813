"""Ground truth as a compact CSR structure: the positives of every query.

Query ``q`` has the database ids ``ids[lims[q]:lims[q+1]]`` as positives, sorted ascending
(the faiss ``range_search`` vocabulary). Memory is ``8 * (n_queries + 1 + nnz)`` bytes.

>>> gt = Positives.from_lists([[3, 1], [], [0]], n_database=4)
>>> gt.lims.tolist(), gt.ids.tolist()
([0, 2, 2, 3], [1, 3, 0])
>>> gt.counts.tolist(), gt.has_positive.tolist()
([2, 0, 1], [True, False, True])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from vprmetrics.errors import InputError

__all__ = [
    "NO_POSITIVE_RULES",
    "NoPositiveRule",
    "Positives",
    "scored_by_rule",
    "scored_queries",
]

NoPositiveRule = Literal["miss", "exclude", "error"]
NO_POSITIVE_RULES: tuple[str, ...] = ("miss", "exclude", "error")


@dataclass(frozen=True)
class Positives:
    """CSR ground truth: ``ids[lims[q]:lims[q+1]]`` are the positives of query ``q``.

    Rows are normalised once, here: ids sorted ascending and duplicates dropped, so a
    ground truth written in any order (a user's ``GT.npz``) scores exactly like the sorted
    one.

    >>> Positives(np.array([0, 3]), np.array([4, 1, 4]), 5).ids.tolist()
    [1, 4]
    """

    lims: np.ndarray
    ids: np.ndarray
    n_database: int

    def __post_init__(self) -> None:
        lims = np.ascontiguousarray(self.lims, dtype=np.int64)
        ids = np.ascontiguousarray(self.ids, dtype=np.int64)
        if lims.ndim != 1 or lims.size < 1 or lims[0] != 0 or lims[-1] != ids.size:
            raise InputError(
                "positives lims must start at 0 and end at len(ids); build them with "
                "Positives.from_lists"
            )
        if np.any(np.diff(lims) < 0):
            raise InputError("positives lims must be non-decreasing; build them with from_lists")
        if ids.size and (ids.min() < 0 or ids.max() >= self.n_database):
            raise InputError(
                f"positive ids must lie in [0, {self.n_database}); got ids from {ids.min()} "
                f"to {ids.max()}: check that the ground truth matches this database"
            )
        if ids.size > 1:
            row = np.repeat(np.arange(lims.size - 1, dtype=np.int64), np.diff(lims))
            key = row * max(int(self.n_database), 1) + ids
            if np.any(np.diff(key) <= 0):  # unsorted or duplicated ids in a row
                key = np.unique(key)
                row, ids = np.divmod(key, max(int(self.n_database), 1))
                lims = np.searchsorted(row, np.arange(lims.size), side="left").astype(np.int64)
        object.__setattr__(self, "lims", lims)
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "n_database", int(self.n_database))

    @classmethod
    def from_lists(cls, lists: Sequence[Sequence[int]], n_database: int) -> Positives:
        """Build from one list of database ids per query (any order, duplicates dropped)."""
        rows = [np.unique(np.asarray(r, dtype=np.int64)) for r in lists]
        lims = np.zeros(len(rows) + 1, dtype=np.int64)
        lims[1:] = np.cumsum([r.size for r in rows])
        ids = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        return cls(lims, ids, n_database)

    @classmethod
    def one_to_one(cls, n_queries: int, n_database: int | None = None) -> Positives:
        """Query ``i`` has database item ``i`` as its only positive (cross-view pairs).

        >>> Positives.one_to_one(3).ids.tolist()
        [0, 1, 2]
        """
        n_database = n_queries if n_database is None else n_database
        if n_database < n_queries:
            raise InputError(
                f"one-to-one ground truth needs at least as many database items ({n_database}) "
                f"as queries ({n_queries}); pair query i with database row i"
            )
        return cls(np.arange(n_queries + 1), np.arange(n_queries), n_database)

    @property
    def n_queries(self) -> int:
        return self.lims.size - 1

    @property
    def counts(self) -> np.ndarray:
        """Number of positives of each query."""
        return np.diff(self.lims)

    @property
    def has_positive(self) -> np.ndarray:
        return self.counts > 0

    @property
    def query_of_entry(self) -> np.ndarray:
        """For each entry of ``ids``, the query it belongs to."""
        return np.repeat(np.arange(self.n_queries, dtype=np.int64), self.counts)

    def of(self, q: int) -> np.ndarray:
        """The positives of query ``q``."""
        return self.ids[self.lims[q] : self.lims[q + 1]]

    def subset(self, queries: np.ndarray) -> Positives:
        """The ground truth of the given queries, in that order."""
        queries = np.asarray(queries, dtype=np.int64)
        return Positives.from_lists([self.of(int(q)).tolist() for q in queries], self.n_database)

    def contains(self, query_ids: np.ndarray, database_ids: np.ndarray) -> np.ndarray:
        """Elementwise: is ``database_ids[i]`` a positive of ``query_ids[i]``?"""
        query_ids = np.asarray(query_ids, dtype=np.int64)
        database_ids = np.asarray(database_ids, dtype=np.int64)
        key = self.query_of_entry * self.n_database + self.ids  # sorted: ids sorted per row
        probe = query_ids * self.n_database + database_ids
        pos = np.searchsorted(key, probe)
        pos = np.minimum(pos, max(key.size - 1, 0))
        return (key.size > 0) & (key[pos] == probe) if key.size else np.zeros(probe.shape, bool)


def scored_queries(positives: Positives, rule: str) -> np.ndarray:
    """Which queries enter the denominator of a metric, under the no-positive ``rule``.

    ``miss``: every query is scored; one without positives is a failure (the VG benchmark
    convention). ``exclude``: queries without positives are left out (and reported).
    ``error``: a query without positives raises :class:`InputError` naming the first one.

    >>> gt = Positives.from_lists([[0], []], n_database=1)
    >>> scored_queries(gt, "miss").tolist(), scored_queries(gt, "exclude").tolist()
    ([True, True], [True, False])
    """
    return scored_by_rule(positives.has_positive, rule)


def scored_by_rule(has: np.ndarray, rule: str) -> np.ndarray:
    """:func:`scored_queries` from the per-query "has a positive" flags."""
    if rule not in NO_POSITIVE_RULES:
        raise InputError(
            f"no-positive rule {rule!r} is unknown; use --no-positive with one of "
            f"{', '.join(NO_POSITIVE_RULES)}"
        )
    if rule == "miss":
        return np.ones_like(has)
    if rule == "exclude":
        if not has.any():
            raise InputError("no query has a positive, so nothing can be scored; check the radius")
        return has
    if not has.all():
        first = int(np.flatnonzero(~has)[0])
        raise InputError(
            f"{int((~has).sum())} queries have no positive (first: query {first}); "
            "use --no-positive miss or exclude, or a larger radius"
        )
    return has
