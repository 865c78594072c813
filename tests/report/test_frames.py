"""Evaluation.to_frame() and per_query_frame() as pandas DataFrames."""

from __future__ import annotations

import numpy as np
import pytest

import vprmetrics as vm
from vprmetrics.report.frames import FRAME_COLUMNS

pd = pytest.importorskip("pandas")


def _evaluation():
    db = np.array([[0.0], [1.0], [1.0], [5.0]])
    q = np.array([[1.0], [4.0], [9.0]])
    gt = vm.Positives.from_lists([[2], [3], []], 4)
    return vm.evaluate(q, db, gt, recall_at=[1, 2], map_at=[1])


def test_report_frame_holds_the_report_numbers():
    ev = _evaluation()
    frame = ev.to_frame()
    assert tuple(frame.columns) == FRAME_COLUMNS
    recall = frame[frame.metric == "recall@n"].set_index("at")
    assert recall.loc[1.0, "value"] == ev.report["recall_at_n"]["1"]
    assert recall.loc[1.0, "optimistic"] == 2 / 3 and recall.loc[1.0, "pessimistic"] == 1 / 3
    assert recall.loc[2.0, "ci_low"] == ev.report["confidence_intervals"]["recall_at_n"]["2"][0]
    assert recall.loc[1.0, "chance"] == ev.report["chance"]["recall_at_n"]["1"]
    pssr = frame[frame.metric == "pssr"].iloc[0]
    assert pssr.value == ev.report["pssr"]["mean"] and np.isnan(pssr["at"])
    assert set(frame.metric) == {"recall@n", "recall@percent", "map@k", "precision@k", "pssr"}


def test_per_query_frame_has_one_row_per_query_with_nan_for_missing():
    frame = _evaluation().per_query_frame()
    assert len(frame) == 3 and frame["query"].tolist() == [0, 1, 2]
    assert frame.loc[0, "tied_negatives"] == 1
    assert np.isnan(frame.loc[2, "pssr"])  # no positive
