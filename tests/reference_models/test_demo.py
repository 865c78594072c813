"""The demo's pieces that need no generated town: the baseline submission and the summary."""

import numpy as np
import pytest

from reference_models import demo
from vprmetrics.data.submission import load_submission


def test_raw_pixel_submission_is_a_valid_submission(make_tiny, tmp_path, monkeypatch):
    data = make_tiny(size=(32, 96))  # a multiple of the baseline's 16x32 grid
    monkeypatch.setattr(demo, "PROTOCOL", "tinytown")
    path = demo.raw_pixel_submission(data, tmp_path / "out")
    sub = load_submission(path)
    assert sub.queries.shape == (10, 16 * 32) and sub.database.shape == (20, 16 * 32)
    np.testing.assert_allclose(np.linalg.norm(sub.queries, axis=1), 1.0, rtol=1e-5)
    assert sorted(p.name for p in path.parent.iterdir()) == ["submission.npz"]


def test_summary_table():
    report = {
        "recall_at_n": {"1": 0.5, "5": 0.75, "10": 0.8, "20": 0.9},
        "recall_at_percent": {"1": 0.6},
        "pssr": {"mean": 0.95},
        "tie_bounds": {"recall_at_n": {"1": {"gap": 0.0}}},
        "confidence_intervals": {"recall_at_n": {"1": [0.4, 0.6]}},
        "chance": {"recall_at_n": {"1": 0.01}},
    }
    other = {**report, "confidence_intervals": {"recall_at_n": {"1": [0.55, 0.7]}}}
    lines = demo.summary_markdown({"m": report, "n": other}, ["a note"]).splitlines()
    assert lines[4] == "| m | 50.00 | 75.00 | 80.00 | 90.00 | 60.00 | 95.00 | 0.00 | 40.00-60.00 |"
    assert "Chance level (a random ranking): R@1 1.00%." in lines
    overlap = [line for line in lines if "overlap" in line]
    assert len(overlap) == 1 and "m (40.00-60.00%) and n (55.00-70.00%)" in overlap[0]
    assert "a note" in lines


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as done:
        demo.main(["--help"])
    assert done.value.code == 0 and "--no-train" in capsys.readouterr().out
