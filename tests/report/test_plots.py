"""The report plots: every file, titles naming the model, the chance level, the positive
threshold, a PSSR axis zoomed to the values, the map, and the comparison of models."""

from __future__ import annotations

import numpy as np
import pytest

import vprmetrics as vm

pytest.importorskip("matplotlib")
from vprmetrics.report import plots


def _evaluation(seed: int = 0, noise: float = 1.5, label: str | None = "model-a"):
    rng = np.random.default_rng(seed)
    db_xy = np.c_[584000 + 6.0 * np.arange(300), 4477000 + 40 * np.sin(np.arange(300) / 20)]
    pick = rng.choice(300, 60, replace=False)
    q_xy = db_xy[pick] + rng.normal(0, 4, size=(60, 2))
    places = rng.normal(size=(300, 32)).astype(np.float32)
    queries = places[pick] + rng.normal(0, noise, size=(60, 32)).astype(np.float32)
    gt = vm.positives_within_radius(q_xy, db_xy, 25.0)
    ev = vm.evaluate(queries, places, gt, query_coords=q_xy, database_coords=db_xy)
    report = {**ev.report, "positive_radius_m": 25.0}
    if label:
        report["label"] = label
    return ev, report


@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures the plot functions draw, kept open for inspection."""
    kept = []

    def keep(fig):
        kept.append(fig)
        return b"\x89PNG"

    monkeypatch.setattr(plots, "figure_png", keep)
    yield kept
    import matplotlib.pyplot as plt

    for fig in kept:
        plt.close(fig)


def test_every_plot_is_a_png_and_the_map_needs_the_evaluation():
    ev, report = _evaluation()
    alone = plots.render_plots(report)
    assert sorted(alone) == [
        "geo_error.png",
        "pssr.png",
        "recall_at_n.png",
        "recall_vs_threshold.png",
    ]
    full = plots.render_plots(report, ev)
    assert sorted(full) == sorted([*alone, "map.png"])
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in full.values())
    no_coords = vm.evaluate(np.eye(3) + 0.1, np.eye(3), vm.Positives.one_to_one(3), recall_at=[1])
    assert sorted(plots.render_plots(no_coords.report, no_coords)) == [
        "pssr.png",
        "recall_at_n.png",
    ]


def test_titles_name_the_model(figures):
    ev, report = _evaluation(label="resnet18_gem")
    plots.render_plots(report, ev)
    titles = [fig.axes[0].get_title() for fig in figures]
    assert len(titles) == 5 and all("resnet18_gem" in t for t in titles)
    figures.clear()
    plots.render_plots({k: v for k, v in report.items() if k != "label"}, ev)
    assert not any("resnet18_gem" in fig.axes[0].get_title() for fig in figures)


def test_recall_plot_draws_the_chance_level(figures):
    _, report = _evaluation()
    plots.render_plots(report)
    ax = figures[0].axes[0]
    chance = next(line for line in ax.get_lines() if line.get_label().startswith("chance"))
    expected = [100 * v for v in report["chance"]["recall_at_n"].values()]
    np.testing.assert_allclose(chance.get_ydata(), expected)
    assert f"{expected[0]:.2f}%" in chance.get_label()


def test_threshold_is_marked_on_recall_vs_threshold(figures):
    _, report = _evaluation()
    plots.render_plots(report)
    ax = figures[3].axes[0]
    marks = [line for line in ax.get_lines() if line.get_label() == "positive threshold 25 m"]
    assert len(marks) == 1 and list(marks[0].get_xdata()) == [25.0, 25.0]
    bins = figures[2].axes[0]  # the error histogram: the line between the 20-25 and 25-50 bars
    edge = report["geo_error_m"]["edges_m"].index(25.0) - 0.5
    assert [list(line.get_xdata()) for line in bins.get_lines()] == [[edge, edge]]


def test_pssr_axis_is_zoomed_to_the_values(figures):
    ev, report = _evaluation(noise=0.8)
    plots.render_plots(report, ev)
    ax = figures[1].axes[0]
    values = 100 * vm.pssr(ev.facts).per_query
    left, right = ax.get_xlim()
    assert right == 100.0 and left <= values.min() and left > 50  # not the whole [0, 100]
    assert sum(p.get_height() for p in ax.patches) == 60  # every query in a bar


def test_map_draws_one_line_per_query_coloured_by_error(figures):
    from matplotlib.collections import LineCollection

    ev, report = _evaluation()
    plots.render_map(report, ev)
    ax = figures[0].axes[0]
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(lines.get_segments()) == 60
    errors = vm.retrieved_geo_error_m(ev.query_coords, ev.database_coords, ev.facts.topk_ids[:, 0])
    np.testing.assert_allclose(
        np.sort(lines.get_array()), np.sort(np.clip(errors, lines.norm.vmin, None))
    )
    # the positive threshold sits at the middle of the log colour scale
    assert np.isclose(np.sqrt(lines.norm.vmin * lines.norm.vmax), 25.0)


def test_comparison_has_one_curve_per_model_and_the_chance_level(figures):
    _, a = _evaluation(0, 1.2, "a")
    _, b = _evaluation(1, 2.0, "b")
    plots.render_comparison({"a": a, "b": b}, title="SynthTown test")
    ax = figures[0].axes[0]
    assert ax.get_title() == "SynthTown test"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "a" in labels and "b" in labels and any(t.startswith("chance") for t in labels)
