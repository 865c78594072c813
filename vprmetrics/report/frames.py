"""Reports as pandas DataFrames for notebooks (needs the ``tables`` extra: pandas).

:func:`report_frame` gives one row per headline number: ``metric`` (``recall@n``,
``recall@percent``, ``map@k``, ``precision@k``, ``pssr``), ``at`` (N, K% or k; NaN for
PSSR), ``value`` (a fraction), ``ci_low``/``ci_high``, the ``optimistic``/``pessimistic``
tie bounds and the ``chance`` level where the report has them. :func:`per_query_frame`
gives the per-query CSV's columns. Values stay fractions, as in JSON and the API.

>>> import numpy as np, vprmetrics as vm
>>> ev = vm.evaluate(np.eye(3) + 0.1, np.eye(3), vm.Positives.one_to_one(3), recall_at=[1])
>>> ev.to_frame().iloc[0][["metric", "at", "value", "chance"]].astype(str).tolist()
['recall@n', '1.0', '1.0', '0.3333333333333333']
>>> ev.per_query_frame().columns[:3].tolist()
['query', 'n_positives', 'd_star']
"""

from __future__ import annotations

from collections.abc import Mapping

from vprmetrics.errors import require
from vprmetrics.report.writers import PER_QUERY_COLUMNS

__all__ = ["FRAME_COLUMNS", "per_query_frame", "report_frame"]

FRAME_COLUMNS = (
    "metric",
    "at",
    "value",
    "ci_low",
    "ci_high",
    "optimistic",
    "pessimistic",
    "chance",
)

# (row name, report section, interval section, tie-bound section)
_SECTIONS = (
    ("recall@n", "recall_at_n", "recall_at_n", "recall_at_n"),
    ("recall@percent", "recall_at_percent", "recall_at_percent", "recall_at_percent"),
    ("map@k", "map_at_k", "map_at_k", None),
    ("precision@k", "precision_at_k", "precision_at_k", None),
)


def _rows(report: Mapping) -> list[dict]:
    nan = float("nan")
    intervals = report.get("confidence_intervals", {})
    rows = []
    for name, section, ci_section, bound_section in _SECTIONS:
        ci = intervals.get(ci_section, {})
        bounds = report.get("tie_bounds", {}).get(bound_section, {}) if bound_section else {}
        chance = report.get("chance", {}).get(section, {})
        for key, value in report.get(section, {}).items():
            lo, hi = ci.get(key, (nan, nan))
            b = bounds.get(key, {})
            rows.append(
                {
                    "metric": name,
                    "at": float(key),
                    "value": value,
                    "ci_low": lo,
                    "ci_high": hi,
                    "optimistic": b.get("optimistic", nan),
                    "pessimistic": b.get("pessimistic", nan),
                    "chance": chance.get(key, nan),
                }
            )
    if "pssr" in report:
        lo, hi = intervals.get("pssr_mean", (nan, nan))
        rows.append(
            {**dict.fromkeys(FRAME_COLUMNS, nan), "metric": "pssr", "value": report["pssr"]["mean"]}
            | {"ci_low": lo, "ci_high": hi}
        )
    return rows


def report_frame(report: Mapping):
    """One row per headline number of ``report`` (see the module doc)."""
    pd = require("pandas", "tables", "DataFrames")
    return pd.DataFrame(_rows(report), columns=list(FRAME_COLUMNS))


def per_query_frame(rows: list[dict]):
    """The per-query rows (``Evaluation.per_query_rows()``) as a DataFrame, missing
    values as NaN."""
    pd = require("pandas", "tables", "DataFrames")
    return pd.DataFrame(rows, columns=list(PER_QUERY_COLUMNS))
