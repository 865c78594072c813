"""PNG plots of a report (needs the ``plots`` extra: matplotlib, imported lazily).

``render_plots(report, evaluation)`` returns ``{file name: PNG bytes}``: the Recall@N
curve with its tie bounds, 95% intervals and the chance level; PSSR per query (its axis
zoomed to where the values are) with the search-space fraction each recall target needs;
with coordinates, the geographic error of the top-1, recall against the positive
threshold (the protocol's threshold marked) and, when ``evaluation`` is given, the map of
queries and their top-1 matches. Every title names the model when the report has a
``label``. :func:`render_comparison` draws the Recall@N curves of several reports in one
plot.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Mapping

import numpy as np

from vprmetrics.errors import require
from vprmetrics.report.numbers import title_of

__all__ = ["figure_png", "pyplot", "render_comparison", "render_map", "render_plots"]

_SIZE = (5.6, 3.8)


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no window)."""
    matplotlib = require("matplotlib", "plots", "plotting")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def figure_png(fig) -> bytes:
    """The figure as PNG bytes (no timestamp, so the same plot gives the same bytes);
    closes it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    pyplot().close(fig)
    return buf.getvalue()


def _recall_axes(ax, ns: list[int]) -> None:
    ax.set_xscale("log")
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.minorticks_off()
    ax.set_xlabel("N")
    ax.set_ylabel("Recall@N (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)


def _chance_line(ax, report: Mapping, ns: list[int]) -> None:
    chance = report.get("chance", {}).get("recall_at_n")
    if chance:
        values = [100 * chance[str(n)] for n in ns]
        ax.plot(
            ns, values, color="grey", ls="--", lw=1, label=f"chance (R@{ns[0]} {values[0]:.2f}%)"
        )


def _errorbar(ax, report: Mapping, ns: list[int], xs=None, **style) -> None:
    value = [100 * report["recall_at_n"][str(n)] for n in ns]
    ci = report["confidence_intervals"]["recall_at_n"]
    lower = [v - 100 * ci[str(n)][0] for n, v in zip(ns, value, strict=True)]
    upper = [100 * ci[str(n)][1] - v for n, v in zip(ns, value, strict=True)]
    ax.errorbar(xs or ns, value, yerr=[lower, upper], marker="o", capsize=3, **style)


def _recall_curve(plt, report: Mapping) -> bytes:
    ns = [int(n) for n in report["recall_at_n"]]
    bounds = report["tie_bounds"]["recall_at_n"]
    opt = [100 * bounds[str(n)]["optimistic"] for n in ns]
    pes = [100 * bounds[str(n)]["pessimistic"] for n in ns]
    fig, ax = plt.subplots(figsize=_SIZE)
    ax.fill_between(ns, pes, opt, color="tab:orange", alpha=0.25, label="optimistic..pessimistic")
    _errorbar(ax, report, ns, label=f"ties: {report['ties']} (95% CI)")
    _chance_line(ax, report, ns)
    _recall_axes(ax, ns)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title_of(report, "Recall@N"))
    return figure_png(fig)


def _pssr_plot(plt, report: Mapping, evaluation=None) -> bytes:
    from matplotlib.ticker import FuncFormatter, NullFormatter

    p = report["pssr"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9.5, 3.8), width_ratios=[3, 2])
    if evaluation is not None:
        from vprmetrics.metrics.pssr import pssr_per_query
        from vprmetrics.metrics.recall import scored_mask

        mask = scored_mask(evaluation.facts, report.get("no_positive", "miss"))
        values = pssr_per_query(evaluation.facts)[mask]
        lo = float(values.min())
        counts, edges = np.histogram(values, bins=40, range=(lo, 1.0) if lo < 1 else None)
    else:
        edges = np.asarray(p["histogram"]["edges"])
        counts = np.asarray(p["histogram"]["counts"])
        lo = float(edges[:-1][counts > 0].min()) if counts.any() else 0.0
    ax.bar(
        100 * edges[:-1],
        counts,
        width=[100 * (b - a) for a, b in itertools.pairwise(edges)],
        align="edge",
        edgecolor="white",
    )
    ax.axvline(100 * p["mean"], color="tab:red", label=f"mean {100 * p['mean']:.2f}%")
    ax.axvline(100 * p["median"], color="tab:red", ls=":", label=f"median {100 * p['median']:.2f}%")
    span = max(1.0 - lo, 0.01)
    ax.set_xlim(100 * max(0.0, lo - 0.05 * span), 100.0)
    ax.set_xlabel("PSSR = (n - k_q) / n (%)")
    ax.set_ylabel("queries")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(title_of(report, "PSSR per query"))
    targets = [(100 * float(t), f) for t, f in p["fraction_for_recall"].items() if f is not None]
    if targets:
        xs, ys = zip(*targets, strict=True)
        ax2.plot(xs, [100 * y for y in ys], marker="o")
        for x, y in zip(xs, ys, strict=True):
            ax2.annotate(
                f"{100 * y:.2g}%",
                (x, 100 * y),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
        ax2.set_yscale("log")
        ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax2.yaxis.set_minor_formatter(NullFormatter())
    ax2.set_xlabel("recall target (%)")
    ax2.set_ylabel("database to search (%)")
    ax2.grid(alpha=0.3, which="both")
    ax2.set_title("search space needed", fontsize=10)
    fig.tight_layout()
    return figure_png(fig)


def _geo_error(plt, report: Mapping) -> bytes:
    g = report["geo_error_m"]
    edges = g["edges_m"]
    labels = [
        f"{edges[i]:g}-{'inf' if edges[i + 1] is None else f'{edges[i + 1]:g}'}"
        for i in range(len(edges) - 1)
    ]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.bar(range(len(labels)), [100 * f for f in g["fractions"]], color="tab:blue", label="share")
    ax2 = ax.twinx()
    ax2.plot(
        range(len(labels)),
        [100 * c for c in g["cdf"]],
        color="tab:red",
        marker="o",
        label="cumulative",
    )
    radius = report.get("positive_radius_m")
    if radius is not None and radius in edges[1:-1]:  # the bin edge at the threshold
        ax.axvline(edges.index(radius) - 0.5, color="black", ls="--", lw=1)
        ax.annotate(
            f"positive threshold {radius:g} m",
            (edges.index(radius) - 0.4, 0.97),
            xycoords=("data", "axes fraction"),
            va="top",
            fontsize=8,
        )
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_xlabel("top-1 geographic error (m)")
    ax.set_ylabel("queries (%)")
    ax2.set_ylabel("cumulative (%)", color="tab:red")
    ax2.set_ylim(0, 100)
    median = g.get("median")
    sub = f" (median {median:.1f} m)" if median is not None else ""
    ax.set_title(title_of(report, "Geographic error of the top-1") + sub)
    return figure_png(fig)


def _recall_vs_threshold(plt, report: Mapping) -> bytes:
    curve = report["geo_error_m"]["recall_vs_threshold"]
    fig, ax = plt.subplots(figsize=_SIZE)
    for n, values in curve["recall"].items():
        ax.plot(curve["thresholds_m"], [100 * v for v in values], marker=".", label=f"R@{n}")
    radius = report.get("positive_radius_m")
    if radius is not None:
        ax.axvline(radius, color="black", ls="--", lw=1, label=f"positive threshold {radius:g} m")
    ax.set_xlabel("positive threshold (m)")
    ax.set_ylabel("Recall (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title_of(report, "Recall against the positive threshold"))
    return figure_png(fig)


def render_map(report: Mapping, evaluation) -> bytes:
    """Query and database positions, with a line from each query to its top-1 match
    coloured by the distance between them (the positive threshold marked on the scale)."""
    plt = pyplot()
    from matplotlib.collections import LineCollection
    from matplotlib.colors import LogNorm

    from vprmetrics.metrics.geo_error import retrieved_geo_error_m

    latlon = evaluation.settings.coords == "latlon"
    q, db = evaluation.query_coords, evaluation.database_coords
    top1 = evaluation.facts.topk_ids[:, 0]
    err = retrieved_geo_error_m(q, db, top1, evaluation.settings.coords)
    xy = (lambda a: a[:, ::-1]) if latlon else (lambda a: a)  # x = lon / easting
    qx, dx = xy(q), xy(db)
    radius = report.get("positive_radius_m")
    both = np.concatenate([qx, dx])
    aspect = 1 / np.cos(np.radians(both[:, 1].mean())) if latlon else 1.0  # metres alike
    width, height = np.ptp(both, axis=0) * [1, aspect] + 1e-9
    fig, ax = plt.subplots(figsize=(7.2, float(np.clip(6.0 * height / width, 2.4, 6.0)) + 1.4))
    ax.scatter(dx[:, 0], dx[:, 1], s=4, color="0.75", label="database", zorder=1)
    finite = err[np.isfinite(err)]
    top = max(float(finite.max()) if finite.size else 1.0, 2.0 * (radius or 1.0))
    centre = radius or float(np.sqrt(top))  # the threshold sits at the scale's yellow middle
    norm = LogNorm(vmin=centre**2 / top, vmax=top)
    order = np.argsort(err)  # the worst matches drawn last, on top
    colour = np.clip(err[order], norm.vmin, None)
    lines = LineCollection(
        list(np.stack([qx[order], dx[top1[order]]], axis=1)),
        array=colour,
        cmap="RdYlGn_r",
        norm=norm,
        linewidths=0.9,
        alpha=0.7,
        zorder=2,
    )
    ax.add_collection(lines)
    ax.scatter(
        qx[order, 0],
        qx[order, 1],
        c=colour,
        cmap="RdYlGn_r",
        norm=norm,
        s=16,
        edgecolors="black",
        linewidths=0.3,
        label="query (colour: error of its top-1)",
        zorder=3,
    )
    bar = fig.colorbar(lines, ax=ax, label="query to top-1 match (m)")
    if radius is not None:
        bar.ax.axhline(radius, color="black", lw=1.5)
        bar.ax.text(
            1.05,
            radius,
            f" {radius:g} m",
            va="center",
            fontsize=7,
            transform=bar.ax.get_yaxis_transform(),
        )
    ax.set_aspect(aspect, adjustable="datalim")
    ax.set_xlabel("longitude (deg)" if latlon else "easting (m)")
    ax.set_ylabel("latitude (deg)" if latlon else "northing (m)")
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=8, loc="best", markerscale=1.5)
    ax.set_title(title_of(report, "Queries and their top-1 matches"))
    return figure_png(fig)


def render_comparison(reports: Mapping[str, Mapping], title: str = "Recall@N") -> bytes:
    """One Recall@N plot of several models (``{name: report}``): each curve with its 95%
    intervals, and the chance level of the first report that states it."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=_SIZE)
    all_ns: set[int] = set()
    for i, (name, report) in enumerate(reports.items()):
        ns = [int(n) for n in report["recall_at_n"]]
        all_ns.update(ns)
        shift = 1 + 0.04 * (i - (len(reports) - 1) / 2)  # keep the error bars apart
        _errorbar(ax, report, ns, label=name, xs=[n * shift for n in ns])
    ns = sorted(all_ns)
    first = next((r for r in reports.values() if "chance" in r), None)
    if first is not None:
        _chance_line(ax, first, [int(n) for n in first["recall_at_n"]])
    _recall_axes(ax, ns)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title)
    return figure_png(fig)


def render_plots(report: Mapping, evaluation=None) -> dict[str, bytes]:
    """Every plot the report supports, as PNG bytes keyed by file name.

    ``evaluation`` (the :class:`~vprmetrics.report.evaluation.Evaluation` the report
    came from) adds what the report alone cannot draw: the map, and PSSR from every query.
    """
    plt = pyplot()
    out = {
        "recall_at_n.png": _recall_curve(plt, report),
        "pssr.png": _pssr_plot(plt, report, evaluation),
    }
    if "geo_error_m" in report:
        out["geo_error.png"] = _geo_error(plt, report)
        out["recall_vs_threshold.png"] = _recall_vs_threshold(plt, report)
        if evaluation is not None and evaluation.query_coords is not None:
            out["map.png"] = render_map(report, evaluation)
    return out
