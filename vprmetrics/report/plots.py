"""PNG plots of a report (needs the ``plots`` extra: matplotlib, imported lazily).

``render_plots(report)`` returns ``{file name: PNG bytes}``: the Recall@N curve with its
tie bounds, the PSSR histogram, the geographic error histogram and CDF, and recall
against the positive threshold (the last two only when coordinates were given).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Mapping

from vprmetrics.errors import require

__all__ = ["render_plots"]


def _figure():
    matplotlib = require("matplotlib", "plots", "plotting")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    _figure().close(fig)
    return buf.getvalue()


def _recall_curve(plt, report: Mapping) -> bytes:
    ns = [int(n) for n in report["recall_at_n"]]
    value = [100 * v for v in report["recall_at_n"].values()]
    bounds = report["tie_bounds"]["recall_at_n"]
    opt = [100 * bounds[str(n)]["optimistic"] for n in ns]
    pes = [100 * bounds[str(n)]["pessimistic"] for n in ns]
    ci = report["confidence_intervals"]["recall_at_n"]
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.fill_between(ns, pes, opt, color="tab:orange", alpha=0.25, label="optimistic..pessimistic")
    ax.errorbar(
        ns,
        value,
        yerr=[
            [v - 100 * ci[str(n)][0] for n, v in zip(ns, value, strict=True)],
            [100 * ci[str(n)][1] - v for n, v in zip(ns, value, strict=True)],
        ],
        marker="o",
        capsize=3,
        label=f"ties: {report['ties']} (95% CI)",
    )
    ax.set_xscale("log")
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("N")
    ax.set_ylabel("Recall@N (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Recall@N")
    return _png(fig)


def _pssr_histogram(plt, report: Mapping) -> bytes:
    h = report["pssr"]["histogram"]
    edges, counts = h["edges"], h["counts"]
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.bar(
        edges[:-1],
        counts,
        width=[b - a for a, b in itertools.pairwise(edges)],
        align="edge",
        edgecolor="white",
    )
    ax.axvline(report["pssr"]["mean"], color="tab:red", label=f"mean {report['pssr']['mean']:.3f}")
    ax.set_xlim(0, 1)
    ax.set_xlabel("PSSR = (n - k_q) / n")
    ax.set_ylabel("queries")
    ax.legend(fontsize=8)
    ax.set_title("PSSR per query")
    return _png(fig)


def _geo_error(plt, report: Mapping) -> bytes:
    g = report["geo_error_m"]
    edges = g["edges_m"]
    labels = [
        f"{edges[i]:g}-{'inf' if edges[i + 1] is None else f'{edges[i + 1]:g}'}"
        for i in range(len(edges) - 1)
    ]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.bar(range(len(labels)), [100 * f for f in g["fractions"]], color="tab:blue", label="share")
    ax2 = ax.twinx()
    ax2.plot(
        range(len(labels)),
        [100 * c for c in g["cdf"]],
        color="tab:red",
        marker="o",
        label="cumulative",
    )
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_xlabel("top-1 geographic error (m)")
    ax.set_ylabel("queries (%)")
    ax2.set_ylabel("cumulative (%)")
    ax2.set_ylim(0, 100)
    ax.set_title("Geographic error of the top-1")
    return _png(fig)


def _recall_vs_threshold(plt, report: Mapping) -> bytes:
    curve = report["geo_error_m"]["recall_vs_threshold"]
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for n, values in curve["recall"].items():
        ax.plot(curve["thresholds_m"], [100 * v for v in values], marker=".", label=f"R@{n}")
    ax.set_xlabel("positive threshold (m)")
    ax.set_ylabel("Recall (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Recall against the positive threshold")
    return _png(fig)


def render_plots(report: Mapping) -> dict[str, bytes]:
    """Every plot the report supports, as PNG bytes keyed by file name."""
    plt = _figure()
    out = {"recall_at_n.png": _recall_curve(plt, report), "pssr.png": _pssr_histogram(plt, report)}
    if "geo_error_m" in report:
        out["geo_error.png"] = _geo_error(plt, report)
        out["recall_vs_threshold.png"] = _recall_vs_threshold(plt, report)
    return out
