"""The `vprmetrics evaluate` contract: outputs, report keys, and one-line errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from vprmetrics.cli import main


@pytest.fixture
def arrays(tmp_path):
    rng = np.random.default_rng(0)
    db_xy = np.c_[584000 + np.arange(200) * 5.0, np.full(200, 4477000.0)]
    q_xy = db_xy[::4] + rng.normal(0, 4, size=(50, 2))
    places = rng.normal(size=(200, 32))
    database = places.astype(np.float32)
    queries = (places[::4] + rng.normal(0, 1.0, size=(50, 32))).astype(np.float32)
    files = {"q": queries, "db": database, "qu": q_xy, "du": db_xy}
    for name, value in files.items():
        np.save(tmp_path / f"{name}.npy", value)
    return tmp_path


def _run(tmp, *extra):
    return main(
        ["evaluate", "--queries", str(tmp / "q.npy"), "--database", str(tmp / "db.npy"), *extra]
    )


def _utm(tmp):
    return ["--query-utm", str(tmp / "qu.npy"), "--database-utm", str(tmp / "du.npy")]


def test_full_report(arrays, capsys):
    out = arrays / "out"
    rc = _run(
        arrays,
        *_utm(arrays),
        "--radius",
        "25",
        "--recall-at",
        "10,1,5,5",
        "--recall-at-percent",
        "5,1",
        "--json",
        str(out / "r.json"),
        "--per-query",
        str(out / "q.csv"),
        "--markdown",
        str(out / "r.md"),
        "--plots",
        str(out / "plots"),
    )
    assert rc == 0
    report = json.loads((out / "r.json").read_text())
    for key in (
        "n_queries",
        "n_database",
        "n_scored",
        "n_without_positives",
        "metric",
        "ties",
        "recall_at_n",
        "recall_at_percent",
        "pssr",
        "geo_error_m",
        "tie_bounds",
        "confidence_intervals",
    ):
        assert key in report
    assert list(report["recall_at_n"]) == ["1", "5", "10"]  # sorted, deduplicated
    assert list(report["recall_at_percent"]) == ["1", "5"]
    assert set(report["pssr"]) >= {"mean", "median", "histogram", "fraction_for_recall"}
    assert all(0 <= v <= 1 for v in report["recall_at_n"].values())
    rows = list(csv.DictReader((out / "q.csv").open()))
    assert list(rows[0]) == [
        "query",
        "n_positives",
        "d_star",
        "closer",
        "tied_negatives",
        "tied_positives",
        "pssr",
        "top1",
        "top1_error_m",
    ]
    assert [int(r["query"]) for r in rows] == list(range(50))
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "geo_error.png",
        "map.png",  # coordinates are known: queries and their top-1 on a map
        "pssr.png",
        "recall_at_n.png",
        "recall_vs_threshold.png",
    ]
    assert (out / "r.md").read_text().startswith("# vprmetrics evaluation")
    assert "R@1 " in capsys.readouterr().out


def test_one_to_one_and_latlon(arrays):
    assert _run(arrays, "--one-to-one", "--recall-at", "1,5", "--json", str(arrays / "o.json")) == 0
    one = json.loads((arrays / "o.json").read_text())
    assert (one["n_scored"], "geo_error_m" in one) == (50, False)  # query i pairs database row i
    np.save(arrays / "ql.npy", np.c_[40.44 + np.arange(50) * 1e-4, np.full(50, -79.99)])
    np.save(arrays / "dl.npy", np.c_[40.44 + np.arange(200) * 0.25e-4, np.full(200, -79.99)])
    rc = _run(
        arrays,
        "--query-latlon",
        str(arrays / "ql.npy"),
        "--database-latlon",
        str(arrays / "dl.npy"),
        "--json",
        str(arrays / "ll.json"),
    )
    assert rc == 0
    assert json.loads((arrays / "ll.json").read_text())["n_scored"] == 50


def _one_line_error(capsys, needle):
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert "Traceback" not in err
    assert needle in err, err


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda t: np.save(t / "q.npy", np.zeros((50, 31), np.float32)), "dim 31"),
        (lambda t: np.save(t / "q.npy", np.full((50, 32), np.nan, np.float32)), "NaN or inf"),
        (lambda t: np.save(t / "q.npy", np.zeros((50, 32), np.int64)), "dtype int64"),
        (
            lambda t: np.save(t / "q.npy", np.array([[object()]] * 50), allow_pickle=True),
            "never unpickled",
        ),
        (lambda t: np.save(t / "q.npy", np.zeros((0, 32), np.float32)), "empty"),
        (lambda t: (t / "q.npy").unlink(), "does not exist"),
        (lambda t: np.save(t / "qu.npy", np.zeros((49, 2))), "one coordinate row per image"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(arrays, capsys, mutate, needle):
    mutate(arrays)
    rc = _run(arrays, *_utm(arrays), "--json", str(arrays / "bad.json"))
    assert rc == 2
    _one_line_error(capsys, needle)
    assert not (arrays / "bad.json").exists()


def test_bad_options(arrays, capsys):
    with pytest.raises(SystemExit) as exc:
        _run(arrays, *_utm(arrays), "--radius", "-1")
    assert exc.value.code == 2
    _one_line_error(capsys, "radius")
    assert _run(arrays, *_utm(arrays), "--recall-at", "300") == 2
    _one_line_error(capsys, "exceeds the database size 200")
    assert _run(arrays) == 2
    _one_line_error(capsys, "exactly one ground truth")
    with pytest.raises(SystemExit) as exc:
        _run(arrays, *_utm(arrays), "--recall-at", "1,x")
    assert exc.value.code == 2
    _one_line_error(capsys, "not a list like 1,5,10")


def test_failed_run_keeps_the_previous_good_report(arrays, capsys):
    good = arrays / "r.json"
    assert _run(arrays, *_utm(arrays), "--json", str(good)) == 0
    before = good.read_bytes()
    np.save(arrays / "q.npy", np.full((50, 32), np.inf, np.float32))
    assert _run(arrays, *_utm(arrays), "--json", str(good)) == 2
    assert good.read_bytes() == before


def test_console_script_version_and_help():
    for args in (
        ["--version"],
        ["--help"],
        ["evaluate", "--help"],
        ["validate", "--help"],
        ["protocols", "--help"],
    ):
        res = subprocess.run(
            [sys.executable, "-m", "vprmetrics.cli", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        assert res.returncode == 0, res.stderr
        assert res.stdout
