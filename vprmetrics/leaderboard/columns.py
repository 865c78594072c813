"""The metric columns of a leaderboard: their names, values, intervals, tie bounds, and
their per-query values (what the paired tests compare).

Names: ``R@N`` (Recall@N under the store's tie policy), ``R@K%`` (Recall@K% under the
protocol's convention), ``PSSR`` (mean proportional search-space reduction) and ``mAP@k``.
Each is a mean over the scored queries of a per-query value recomputed from the stored
ranking facts, so a paired test needs no new ranking. Higher is better for all of them.

>>> report = {"recall_at_n": {"1": 0.5, "5": 0.75}, "recall_at_percent": {"1": 0.8},
...           "pssr": {"mean": 0.9}, "map_at_k": {"5": 0.4}}
>>> [c.key for c in columns(report)], [c.key for c in columns(report, table=True)]
(['R@1', 'R@5', 'R@1%', 'PSSR', 'mAP@5'], ['R@1', 'R@5', 'R@1%', 'PSSR'])
>>> [c.slug for c in columns(report)]
['recall_at_1', 'recall_at_5', 'recall_at_1pct', 'pssr', 'map_at_5']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from vprmetrics.errors import InputError
from vprmetrics.geo.positives import Positives
from vprmetrics.metrics.pssr import pssr_per_query
from vprmetrics.metrics.recall import per_query_success, scored_mask
from vprmetrics.metrics.retrieval import average_precision_per_query
from vprmetrics.ranking.facts import RankingFacts

__all__ = ["Column", "column", "columns"]

#: report section -> (name template, shown in the table by default)
_SECTIONS: dict[str, tuple[str, bool]] = {
    "recall_at_n": ("R@{}", True),
    "recall_at_percent": ("R@{}%", True),
    "pssr": ("PSSR", True),
    "map_at_k": ("mAP@{}", False),
}


@dataclass(frozen=True)
class Column:
    """One metric of the report: ``section`` and cut-off key ``cut`` (``"mean"`` for PSSR)."""

    key: str
    section: str
    cut: str

    @property
    def percent(self) -> bool:
        """Shown in percent (every metric but PSSR, a fraction)."""
        return self.section != "pssr"

    @property
    def slug(self) -> str:
        """An identifier-safe name: ``recall_at_1``, ``recall_at_1pct``, ``map_at_5``."""
        if self.section == "pssr":
            return "pssr"
        prefix = "map_at_" if self.section == "map_at_k" else "recall_at_"
        suffix = "pct" if self.section == "recall_at_percent" else ""
        return prefix + self.cut.replace(".", "_") + suffix

    def shown(self, report: Mapping[str, Any]) -> float:
        """The value as published: percent, or the PSSR fraction."""
        return 100 * self.value(report) if self.percent else self.value(report)

    @property
    def interval_key(self) -> tuple[str, str | None]:
        return ("pssr_mean", None) if self.section == "pssr" else (self.section, self.cut)

    def value(self, report: Mapping[str, Any]) -> float:
        return float(report[self.section][self.cut])

    def interval(self, report: Mapping[str, Any]) -> tuple[float, float]:
        section, cut = self.interval_key
        ci = report["confidence_intervals"][section]
        lo, hi = ci if cut is None else ci[cut]
        return float(lo), float(hi)

    def tie_gap(self, report: Mapping[str, Any]) -> float | None:
        """Optimistic minus pessimistic value, for the metrics that have tie bounds."""
        bounds = report.get("tie_bounds", {}).get(self.section)
        return None if bounds is None else float(bounds[self.cut]["gap"])

    def ties_decide(self, report: Mapping[str, Any]) -> bool:
        """True when the tie policy moves the number more than its interval is wide."""
        gap = self.tie_gap(report)
        lo, hi = self.interval(report)
        return gap is not None and gap > hi - lo

    def per_query(
        self, facts: RankingFacts, report: Mapping[str, Any], positives: Positives | None = None
    ) -> np.ndarray:
        """The per-query values whose mean (over scored queries) is :meth:`value`."""
        mask = scored_mask(facts, report["no_positive"])
        if self.section == "recall_at_n":
            return per_query_success(facts, [int(self.cut)], report["ties"])[mask, 0]
        if self.section == "recall_at_percent":
            n = report["recall_at_percent_cutoffs"][self.cut]
            return per_query_success(facts, [int(n)], report["recall_at_percent_ties"])[mask, 0]
        if self.section == "pssr":
            return pssr_per_query(facts)[mask]
        if positives is None:
            raise InputError(f"{self.key} per query needs the ground truth positives")
        return average_precision_per_query(facts, positives, int(self.cut))[mask]


def columns(report: Mapping[str, Any], *, table: bool = False) -> list[Column]:
    """Every metric column a report has (``table=True``: those a table shows)."""
    out = []
    for section, (template, shown) in _SECTIONS.items():
        if section not in report or (table and not shown):
            continue
        cuts = ["mean"] if section == "pssr" else list(report[section])
        out += [Column(template.format(c), section, c) for c in cuts]
    return out


def column(report: Mapping[str, Any], key: str) -> Column:
    """The column called ``key`` (case-insensitive), or an error listing the names."""
    found = {c.key.lower(): c for c in columns(report)}
    if key.lower() not in found:
        names = ", ".join(c.key for c in columns(report))
        raise InputError(f"unknown metric {key!r}; use one of {names}")
    return found[key.lower()]
