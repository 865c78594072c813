"""Sentences that compare several reports of one test split, for a run's summary.

:func:`overlap_sentences` says, for each pair of models whose 95% intervals of a number
overlap, that the split does not separate them clearly. Overlapping intervals are a
conservative sign, not a test: two models scored on the same queries are compared more
sharply by a paired test on the per-query successes.

>>> a = {"recall_at_n": {"1": 0.5}, "confidence_intervals": {"recall_at_n": {"1": [0.4, 0.6]}}}
>>> b = {"recall_at_n": {"1": 0.58}, "confidence_intervals": {"recall_at_n": {"1": [0.5, 0.66]}}}
>>> sentence = overlap_sentences({"A": a, "B": b})[0]
>>> sentence[:64]
'R@1: the 95% intervals of A (40.00-60.00%) and B (50.00-66.00%) '
>>> sentence[64:]
'overlap, so this split does not separate them clearly.'
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

from vprmetrics.report.numbers import percent
from vprmetrics.report.writers import chance_sentence

__all__ = ["chance_sentence", "overlap_sentences"]  # chance_sentence: from writers

_NAMES = {"recall_at_n": "R@{}", "recall_at_percent": "R@{}%", "map_at_k": "mAP@{}"}


def overlap_sentences(
    reports: Mapping[str, Mapping],
    section: str = "recall_at_n",
    keys: Sequence[str] = ("1",),
) -> list[str]:
    """One sentence per number in ``keys`` and pair of models whose intervals overlap."""
    out = []
    for key in keys:
        name = _NAMES.get(section, section + "@{}").format(key)
        intervals = {
            model: r["confidence_intervals"][section][key]
            for model, r in reports.items()
            if key in r.get("confidence_intervals", {}).get(section, {})
        }
        for (a, (lo_a, hi_a)), (b, (lo_b, hi_b)) in itertools.combinations(intervals.items(), 2):
            if lo_a <= hi_b and lo_b <= hi_a:
                out.append(
                    f"{name}: the {_level(reports[a])} intervals of {a} "
                    f"({percent(lo_a)}-{percent(hi_a)}%) and {b} "
                    f"({percent(lo_b)}-{percent(hi_b)}%) overlap, so this split does not "
                    "separate them clearly."
                )
    return out


def _level(report: Mapping) -> str:
    level = report.get("confidence_intervals", {}).get("level", 0.95)
    return f"{100 * level:g}%"
