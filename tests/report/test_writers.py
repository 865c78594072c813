"""Human-readable outputs: percentages with two decimals everywhere, metres with one, the
model's name in the title, the chance level stated, and the console line."""

from __future__ import annotations

import re

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import vprmetrics as vm
from vprmetrics.report.chance import chance_recall
from vprmetrics.report.compare import overlap_sentences
from vprmetrics.report.numbers import metres, percent
from vprmetrics.report.writers import console_summary, render_markdown


def _report(label=None):
    rng = np.random.default_rng(0)
    db_xy = np.c_[584000 + 5.0 * np.arange(200), np.full(200, 4477000.0)]
    q_xy = db_xy[::5] + rng.normal(0, 5, size=(40, 2))
    places = rng.normal(size=(200, 16)).astype(np.float32)
    queries = places[::5] + rng.normal(0, 1.0, size=(40, 16)).astype(np.float32)
    gt = vm.positives_within_radius(q_xy, db_xy, 25)
    ev = vm.evaluate(queries, places, gt, query_coords=q_xy, database_coords=db_xy)
    report = {**ev.report, "positive_radius_m": 25.0, "efficiency": {"ms": 0.0123456, "n": 12345}}
    return {**report, "label": label} if label else report


def test_markdown_has_no_raw_floats():
    md = render_markdown(_report())
    assert re.findall(r"\d+\.\d{3,}", md.split("## Efficiency")[0]) == []
    assert re.search(r"median \d+\.\d m\n", md)
    assert "- positives: within 25 m" in md
    assert "- ms: 0.0123\n" in md and "- n: 12,345" in md
    pssr = re.search(r"mean (\d+\.\d\d)%, median (\d+\.\d\d)%", md)
    assert pssr is not None


def test_markdown_title_and_chance_level():
    report = _report(label="resnet18_gem")
    md = render_markdown(report)
    assert md.startswith("# vprmetrics evaluation: resnet18_gem\n")
    chance_1 = percent(report["chance"]["recall_at_n"]["1"])
    assert f"Chance level (a random ranking): R@1 {chance_1}%" in md
    assert "| chance (%) |" in md


def test_console_line_uses_the_same_percentages():
    report = _report(label="m")
    line = console_summary(report)
    assert line.startswith("m: 40/40 queries scored against 200 (l2, ties expected): R@1 ")
    assert f"R@1 {percent(report['recall_at_n']['1'])}%" in line
    assert f"PSSR {percent(report['pssr']['mean'])}%" in line
    assert re.findall(r"\d+\.\d{3,}", line) == []


def test_formatters_by_hand():
    assert percent(0.5) == "50.00" and percent(1 / 3) == "33.33" and percent(None) == "n/a"
    assert metres(202.76913995580026) == "202.8 m"


@given(
    n=st.integers(1, 12),
    counts=st.lists(st.integers(0, 12), min_size=1, max_size=6),
    cut=st.integers(1, 12),
)
def test_chance_is_what_a_constant_descriptor_scores_under_expected_ties(n, counts, cut):
    counts = [min(c, n) for c in counts]
    rng = np.random.default_rng(n)
    lists = [rng.choice(n, c, replace=False).tolist() for c in counts]
    gt = vm.Positives.from_lists(lists, n)
    facts = vm.rank(np.zeros((len(counts), 2)), np.zeros((n, 2)), gt, k=min(cut, n))
    expected = vm.recall_at_n(facts, [min(cut, n)], ties="expected")[min(cut, n)]
    assert np.isclose(chance_recall(np.array(counts), n, [cut])[0], expected, atol=1e-12)


def test_overlap_sentences_only_for_overlapping_intervals():
    def r(lo, hi):
        return {"confidence_intervals": {"level": 0.95, "recall_at_n": {"1": [lo, hi]}}}

    reports = {"a": r(0.1, 0.2), "b": r(0.15, 0.3), "c": r(0.5, 0.6)}
    (only,) = overlap_sentences(reports)
    assert only.startswith("R@1: the 95% intervals of a (10.00-20.00%) and b (15.00-30.00%)")
    assert overlap_sentences({"a": r(0.1, 0.2), "c": r(0.5, 0.6)}) == []
    assert len(overlap_sentences({"a": r(0.1, 0.2), "b": r(0.2, 0.3)})) == 1  # touching
