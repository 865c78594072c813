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
