"""The README's Python and command-line examples work as written and print true numbers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def _brute_force_recall(queries, database, gt_rows, ns) -> dict[str, float]:
    """Recall@N by a full float64 sort (the README's data has no ties)."""
    q = np.asarray(queries, dtype=np.float64)
    x = np.asarray(database, dtype=np.float64)
    d = (q**2).sum(1)[:, None] + (x**2).sum(1)[None, :] - 2 * q @ x.T
    order = np.argsort(d, axis=1, kind="stable")
    first = [
        next((r for r, j in enumerate(row) if j in set(pos)), len(row))
        for row, pos in zip(order, gt_rows, strict=True)
    ]
    return {str(n): float(np.mean([f < n for f in first])) for n in ns}


def test_python_example_prints_the_brute_force_numbers(capsys):
    code = _blocks("python")[0]
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    out = capsys.readouterr().out
    rows = [ns["gt"].of(i).tolist() for i in range(ns["gt"].n_queries)]
    want = _brute_force_recall(ns["queries"], ns["database"], rows, (1, 5, 10, 20))
    report = ns["ev"].report
    assert report["recall_at_n"] == want
    assert 0.0 < want["1"] <= want["20"] <= 1.0
    assert str(report["recall_at_n"]) in out


def test_cli_example_writes_the_api_numbers(tmp_path):
    script = next(b for b in _blocks("bash") if "vprmetrics evaluate" in b)
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"]}
    res = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    for name in ("report.json", "per_query.csv", "report.md", "plots/recall_at_n.png"):
        assert (tmp_path / name).is_file(), name
    import vprmetrics as vm

    load = lambda name: np.load(tmp_path / name)  # noqa: E731
    gt = vm.positives_within_radius(load("qu.npy"), load("du.npy"), radius_m=25)
    rows = [gt.of(i).tolist() for i in range(gt.n_queries)]
    report = json.loads((tmp_path / "report.json").read_text())
    want = _brute_force_recall(load("q.npy"), load("d.npy"), rows, (1, 5, 10, 20))
    assert report["recall_at_n"] == want
    per_query = (tmp_path / "per_query.csv").read_text().splitlines()
    assert len(per_query) == 1 + 100


def test_score_your_own_descriptors_runs_as_written(tmp_path):
    """The section's commands on a small VG-style dataset (file names carry UTM)."""
    import pytest

    pytest.importorskip("PIL")
    from tests.cli.vg_world import make_world

    _, queries, database = make_world(tmp_path / "data")
    np.save(tmp_path / "queries.npy", queries)
    np.save(tmp_path / "database.npy", database)
    section = README.read_text().split("## Score your own descriptors")[1]
    script = re.findall(r"```bash\n(.*?)```", section, flags=re.S)[0]
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ["PATH"],
        "DATASET": str(tmp_path / "data"),
    }
    res = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert re.search(r"R@1 \d+\.\d\d%", res.stdout)
    assert (tmp_path / "report.md").is_file() and (tmp_path / "plots" / "recall_at_n.png").is_file()
