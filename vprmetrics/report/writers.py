"""Reports: JSON, Markdown and per-query CSV, written atomically.

Everything is rendered in memory first and each file is written to a temporary name in
its folder, then renamed over the target: a run that fails never leaves a half-written
report where a good one was.

>>> render_markdown({"n_queries": 2, "n_database": 3, "n_scored": 2, "metric": "l2",
...     "ties": "expected", "recall_at_n": {"1": 0.5}}).splitlines()[0]
'# vprmetrics evaluation'
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from vprmetrics.files import commit_files
from vprmetrics.report.numbers import metres, percent, title_of

if TYPE_CHECKING:
    from vprmetrics.report.evaluation import Evaluation

__all__ = [
    "PER_QUERY_COLUMNS",
    "chance_sentence",
    "console_summary",
    "render_csv",
    "render_json",
    "render_markdown",
    "write_outputs",
]

PER_QUERY_COLUMNS = (
    "query",
    "n_positives",
    "d_star",
    "closer",
    "tied_negatives",
    "tied_positives",
    "pssr",
    "top1",
    "top1_error_m",
)


def render_json(report: Mapping) -> bytes:
    return (json.dumps(report, indent=2, allow_nan=False) + "\n").encode()


def render_csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=PER_QUERY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row[k] is None else row[k]) for k in PER_QUERY_COLUMNS})
    return buf.getvalue().encode()


def _number(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def console_summary(report: Mapping) -> str:
    """The one line ``vprmetrics evaluate`` prints: counts, Recall@N, Recall@K%, PSSR."""
    recall = ", ".join(f"R@{n} {percent(v)}%" for n, v in report["recall_at_n"].items())
    pct = ", ".join(f"R@{k}% {percent(v)}%" for k, v in report["recall_at_percent"].items())
    label = f"{report['label']}: " if report.get("label") else ""
    return (
        f"{label}{report['n_scored']}/{report['n_queries']} queries scored against "
        f"{report['n_database']} ({report['metric']}, ties {report['ties']}): {recall}; "
        f"{pct}; PSSR {percent(report['pssr']['mean'])}%"
    )


def _table(title: str, values: Mapping, label: str, report: Mapping, section: str) -> list[str]:
    ci = report.get("confidence_intervals", {}).get(section, {})
    bounds = report.get("tie_bounds", {}).get(section, {})
    chance = report.get("chance", {}).get(section, {})
    lines = [
        f"## {title}",
        "",
        f"| {label} | value (%) | 95% CI (%) | optimistic (%) | pessimistic (%) | chance (%) |",
        "|---:|---:|:---:|---:|---:|---:|",
    ]
    for key, value in values.items():
        lo_hi = ci.get(key)
        b = bounds.get(key, {})
        interval = f"{percent(lo_hi[0])} - {percent(lo_hi[1])}" if lo_hi else ""
        lines.append(
            f"| {key} | {percent(value)} | {interval} | {percent(b.get('optimistic'))} "
            f"| {percent(b.get('pessimistic'))} | {percent(chance.get(key))} |"
        )
    return [*lines, ""]


def render_markdown(report: Mapping) -> str:
    """A human-readable summary of a report: percentages with two decimals, metres with one."""
    out = [f"# {title_of(report, 'vprmetrics evaluation')}", ""]
    if "protocol" in report:
        p = report["protocol"]
        out += [f"Protocol: **{p.get('name')}** (sha256 {str(p.get('sha256', ''))[:12]})", ""]
    out += [
        f"- queries: {report['n_queries']} ({report['n_scored']} scored, "
        f"{report.get('n_without_positives', 0)} without positives, rule "
        f"`{report.get('no_positive', 'miss')}`)",
        f"- database: {report['n_database']}",
        f"- metric: `{report['metric']}`, ties: `{report['ties']}`",
    ]
    if report.get("positive_radius_m") is not None:
        out.append(f"- positives: within {report['positive_radius_m']:g} m")
    out.append("")
    out += _table("Recall@N", report["recall_at_n"], "N", report, "recall_at_n")
    chance = chance_sentence(report)
    if chance:
        out += [f"{chance} A constant descriptor scores this under `expected` ties.", ""]
    if report.get("recall_at_percent"):
        out += _table(
            f"Recall@K% (convention `{report.get('recall_at_percent_convention')}`, "
            f"ties `{report.get('recall_at_percent_ties')}`)",
            report["recall_at_percent"],
            "K%",
            report,
            "recall_at_percent",
        )
    if "pssr" in report:
        p = report["pssr"]
        out += [
            "## PSSR",
            "",
            f"mean {percent(p['mean'])}%, median {percent(p['median'])}%",
            "",
            "| recall target (%) | search-space fraction (%) |",
            "|---:|---:|",
        ]
        out += [
            f"| {percent(float(t))} | {'unreachable' if f is None else percent(f)} |"
            for t, f in p["fraction_for_recall"].items()
        ]
        out.append("")
    if report.get("map_at_k"):
        out += [
            "## mAP@k and precision@k",
            "",
            "| k | mAP@k (%) | precision@k (%) |",
            "|---:|---:|---:|",
        ]
        out += [
            f"| {k} | {percent(v)} | {percent(report['precision_at_k'][k])} |"
            for k, v in report["map_at_k"].items()
        ]
        out.append("")
    if "geo_error_m" in report:
        g = report["geo_error_m"]
        edges = g["edges_m"]
        out += ["## Geographic error of the top-1", "", f"median {metres(g['median'])}", ""]
        out += ["| bin (m) | share (%) | cumulative (%) |", "|---|---:|---:|"]
        for i, (frac, cdf) in enumerate(zip(g["fractions"], g["cdf"], strict=True)):
            hi = "inf" if edges[i + 1] is None else f"{edges[i + 1]:g}"
            out.append(f"| {edges[i]:g}-{hi} | {percent(frac)} | {percent(cdf)} |")
        out.append("")
    if "efficiency" in report:
        out += ["## Efficiency", ""]
        out += [f"- {k}: {_number(v)}" for k, v in report["efficiency"].items()]
        out.append("")
    return "\n".join(out)


def chance_sentence(report: Mapping) -> str | None:
    """The chance level of the report's Recall@N, as one sentence (``None`` without it).

    >>> chance_sentence({"chance": {"recall_at_n": {"1": 0.01, "5": 0.05}}})
    'Chance level (a random ranking): R@1 1.00%, R@5 5.00%.'
    """
    chance = report.get("chance", {}).get("recall_at_n")
    if not chance:
        return None
    values = ", ".join(f"R@{n} {percent(v)}%" for n, v in chance.items())
    return f"Chance level (a random ranking): {values}."


def write_outputs(
    report: Mapping,
    rows: list[dict] | None = None,
    *,
    json_path: str | Path | None = None,
    csv_path: str | Path | None = None,
    markdown_path: str | Path | None = None,
    plots_dir: str | Path | None = None,
    evaluation: Evaluation | None = None,
) -> list[Path]:
    """Render every requested output in memory, then commit them all together
    (:func:`vprmetrics.files.commit_files`): all are replaced, or none is. With the
    ``evaluation`` the plots also draw the per-query PSSR histogram and the map."""
    pending: list[tuple[str | Path, bytes]] = []
    if json_path is not None:
        pending.append((json_path, render_json(report)))
    if csv_path is not None:
        pending.append((csv_path, render_csv(rows or [])))
    if markdown_path is not None:
        pending.append((markdown_path, render_markdown(report).encode()))
    if plots_dir is not None:
        from vprmetrics.report.plots import render_plots

        pending += [
            (Path(plots_dir) / name, png) for name, png in render_plots(report, evaluation).items()
        ]
    return commit_files(pending)
