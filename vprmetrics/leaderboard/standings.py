"""A protocol's table: every scored entry with its values, intervals, tie flags and a
rank from paired tests, and the pairwise comparisons behind it.

The family of a table is every pair of its scored entries on one metric (m entries:
m (m - 1) / 2 paired tests); Holm-Bonferroni adjusts the p-values over that family, and
``j`` is significantly better than ``i`` when its mean is higher and the adjusted p is at
most ``alpha = 1 - confidence``. Rows are ordered by rank, then value, then submission.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vprmetrics.leaderboard.columns import Column, column, columns
from vprmetrics.leaderboard.statistics import Comparison, holm, paired_test, ranks
from vprmetrics.leaderboard.store import Entry, ProtocolRecord

__all__ = ["Family", "Row", "Standings", "compare_family"]


@dataclass(frozen=True)
class Family:
    """All pairwise comparisons of ``entries`` on one metric, Holm-adjusted.

    ``tests[(i, j)]`` (``i < j``, indices into ``entries``) compares ``i`` against ``j``.
    """

    metric: Column
    entries: list[Entry]
    tests: dict[tuple[int, int], Comparison]
    adjusted: dict[tuple[int, int], float]
    alpha: float

    def between(self, i: int, j: int) -> tuple[Comparison, float]:
        """``i`` against ``j`` (either order), with its adjusted p-value."""
        if i < j:
            return self.tests[(i, j)], self.adjusted[(i, j)]
        c = self.tests[(j, i)]
        flipped = Comparison(-c.difference, -c.high, -c.low, c.p_value, c.n_queries)
        return flipped, self.adjusted[(j, i)]

    def better(self) -> np.ndarray:
        """``better[j, i]``: entry ``j`` is significantly better than ``i``."""
        m = len(self.entries)
        out = np.zeros((m, m), dtype=bool)
        for (i, j), c in self.tests.items():
            if self.adjusted[(i, j)] <= self.alpha and c.difference != 0:
                winner, loser = (i, j) if c.difference > 0 else (j, i)
                out[winner, loser] = True
        return out


def compare_family(
    record: ProtocolRecord,
    entries: list[Entry],
    per_query: list[np.ndarray],
    metric: Column,
) -> Family:
    """Every pairwise paired test of ``entries`` on ``metric``, Holm-adjusted."""
    s = record.settings
    tests = {}
    for i in range(len(entries)):
        for j in range(i + 1, len(entries)):
            tests[(i, j)] = paired_test(
                per_query[i],
                per_query[j],
                seed=s["seed"],
                keys=(entries[i].submission_sha256, entries[j].submission_sha256, metric.key),
                n_permutations=s["n_permutations"],
                confidence=s["confidence"],
                n_resamples=s["n_resamples"],
            )
    pairs = list(tests)
    adjusted = dict(zip(pairs, holm([tests[p].p_value for p in pairs]).tolist(), strict=True))
    return Family(metric, entries, tests, adjusted, 1.0 - s["confidence"])


@dataclass(frozen=True)
class Row:
    """One ranked entry of a table."""

    entry: Entry
    rank: int
    values: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    ties_decide: dict[str, bool]

    @property
    def report(self) -> dict[str, Any]:
        assert self.entry.report is not None  # scored entries always have one
        return self.entry.report


@dataclass(frozen=True)
class Standings:
    """The table of one protocol, sorted by ``sort`` (see the module doc)."""

    protocol: ProtocolRecord
    sort: Column | None
    columns: list[Column]
    rows: list[Row]
    rejected: list[Entry]
    family: Family | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        record: ProtocolRecord,
        scored: list[Entry],
        rejected: list[Entry],
        family_of: Callable[[ProtocolRecord, list[Entry], Column], Family],
        sort: str | None = None,
    ) -> Standings:
        """``family_of(record, scored, column)`` gives the comparisons on ``column``
        (:func:`compare_family` of the entries' per-query values)."""
        if not scored:
            return cls(record, None, [], [], rejected)
        first = scored[0].report or {}
        shown = columns(first, table=True)
        metric = column(first, sort) if sort else shown[0]
        family = family_of(record, scored, metric)
        rank = ranks(family.better())
        rows = []
        for e, r in zip(scored, rank.tolist(), strict=True):
            rep = e.report or {}
            rows.append(
                Row(
                    e,
                    int(r),
                    {c.key: c.value(rep) for c in shown},
                    {c.key: c.interval(rep) for c in shown},
                    {c.key: c.ties_decide(rep) for c in shown},
                )
            )
        order = sorted(
            range(len(rows)),
            key=lambda i: (rows[i].rank, -metric.value(rows[i].report), rows[i].entry.id),
        )
        return cls(record, metric, shown, [rows[i] for i in order], rejected, family)

    def as_json(self) -> dict[str, Any]:
        """The table as plain JSON (``show --json``): ranked rows and rejected entries."""
        return {
            "protocol": self.protocol.name,
            "sort": None if self.sort is None else self.sort.key,
            "settings": self.protocol.settings,
            "rows": [
                {
                    "rank": r.rank,
                    "name": r.entry.name,
                    "team": r.entry.team,
                    "values": r.values,
                    "intervals": {k: list(v) for k, v in r.intervals.items()},
                    "ties_decide": [k for k, v in r.ties_decide.items() if v],
                    "efficiency": {
                        "descriptor_dim": r.entry.descriptor_dim,
                        "dtype": r.entry.dtype,
                        "bytes_per_descriptor": r.entry.bytes_per_descriptor,
                        "matching_ms_per_query": r.entry.matching_ms_per_query,
                    },
                    "provenance": r.entry.provenance(),
                }
                for r in self.rows
            ],
            "rejected": [
                {"name": e.name, "team": e.team, "reason": e.reason, **e.provenance()}
                for e in self.rejected
            ],
        }
