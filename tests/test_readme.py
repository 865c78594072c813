"""The README's Python and command-line examples work as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def test_python_example_runs(capsys):
    code = _blocks("python")[0]
    exec(compile(code, "README.md", "exec"), {})
    assert "'1':" in capsys.readouterr().out


def test_cli_example_runs(tmp_path):
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


def test_score_your_own_descriptors_runs_as_written(tmp_path):
    """The section's commands on a small VG-style dataset (file names carry UTM)."""
    import numpy as np
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
