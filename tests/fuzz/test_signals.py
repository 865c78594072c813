"""A run stopped by a signal at any moment of its multi-output commit leaves the outputs
all old or all new; Ctrl-C and SIGTERM leave no temporary file, and the temporary files a
SIGKILL leaves behind are deleted by the next run into that folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

DRIVER = Path(__file__).with_name("signal_driver.py")
OLD = b"old report\n"


def _targets(folder: Path) -> list[Path]:
    return [folder / "r.json", folder / "q.csv", folder / "r.md"]


def _start(world, folder: Path, moment: str) -> subprocess.Popen:
    for path in _targets(folder):
        path.write_bytes(OLD)
    args = [*world.raw_args(), "--json", str(folder / "r.json"), "--per-query"]
    args += [str(folder / "q.csv"), "--markdown", str(folder / "r.md")]
    env = {**os.environ, "PAUSE_AT": moment, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, str(DRIVER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("PAUSED"):
            return proc
    proc.wait()
    raise AssertionError(f"never paused at {moment}: {proc.stderr.read()}")  # type: ignore[union-attr]


def _state(folder: Path) -> str:
    contents = [p.read_bytes() for p in _targets(folder)]
    if all(c == OLD for c in contents):
        return "old"
    if all(c != OLD for c in contents):
        return "new"
    return "mixed"


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".vprtmp-" in p.name)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize(
    "moment, expect", [("render", "old"), ("temp1", "old"), ("temp2", "old"), ("rename1", "new")]
)
def test_interrupt_leaves_all_old_or_all_new(world, tmp_path, sig, moment, expect):
    proc = _start(world, tmp_path, moment)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert _state(tmp_path) == expect
    assert _temps(tmp_path) == []
    said = "after every output was written" if expect == "new" else "no output was changed"
    assert said in err and "Traceback" not in err


@pytest.mark.parametrize("moment", ["render", "temp1", "temp2"])
def test_sigkill_before_the_renames_leaves_all_old(world, tmp_path, moment):
    proc = _start(world, tmp_path, moment)
    proc.kill()
    proc.communicate(timeout=60)
    assert _state(tmp_path) == "old"
    left = _temps(tmp_path)
    assert len(left) == int(moment[-1]) if moment.startswith("temp") else left == []
    from tests.fuzz.contract import run

    assert run([*world.raw_args(), "--json", str(tmp_path / "r.json")], tmp_path).rc == 0
    assert _temps(tmp_path) == []  # the next commit into the folder swept them
