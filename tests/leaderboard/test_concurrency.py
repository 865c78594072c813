"""Two submits at once both land; a submit killed at any point leaves the store as it was."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vprmetrics.leaderboard import Leaderboard
from vprmetrics.leaderboard.store import Store

ROOT = Path(__file__).resolve().parents[2]


def _driver(mode: str, marker: Path, store: Path, file: Path, name: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tests.leaderboard.submit_driver", mode, str(marker)]
    return subprocess.Popen(
        [*cmd, str(store), str(file), "--name", name],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"driver exited early: {proc.communicate()}")
        if time.monotonic() > end:
            pytest.fail("driver never reached the write transaction")
        time.sleep(0.02)


def _snapshot(store: Path) -> list[tuple]:
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute("SELECT id, name, status, length(facts) FROM submissions").fetchall()


def test_two_submits_at_the_same_moment_both_land(fresh, world, tmp_path):
    # A holds the write lock (inside its transaction) while B scores and then waits for it.
    a = _driver("pause", tmp_path / "a", fresh, world["winner"], "a")
    _wait_for(tmp_path / "a", a)
    b = _driver("plain", tmp_path / "b", fresh, world["mid-a"], "b")
    c = _driver("plain", tmp_path / "c", fresh, world["mid-b"], "c")
    for proc in (a, b, c):
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    with Store(fresh) as store:
        entries = store.entries(1)
    assert sorted(e.name for e in entries) == ["a", "b", "c"]
    assert entries[0].name == "a" and all(e.status == "scored" for e in entries)


def test_a_submit_killed_inside_its_transaction_leaves_the_store_as_it_was(fresh, world, tmp_path):
    with Leaderboard(fresh) as board:
        board.submit([world["mid-a"]], "before")
    before = _snapshot(fresh)
    proc = _driver("kill", tmp_path / "k", fresh, world["winner"], "killed")
    assert proc.wait(timeout=120) == -signal.SIGKILL
    assert (tmp_path / "k").exists()  # it died with the row inserted but not committed
    assert _snapshot(fresh) == before
    with Leaderboard(fresh) as board:  # the same file and name are free: nothing was kept
        assert board.submit([world["winner"]], "killed").status == "scored"
    assert [row[1] for row in _snapshot(fresh)] == ["before", "killed"]


@pytest.mark.parametrize("delay", [0.3, 0.9])
def test_a_submit_killed_at_any_moment_is_all_or_nothing(fresh, world, tmp_path, delay):
    proc = _driver("plain", tmp_path / "m", fresh, world["mid-b"], "maybe")
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    rows = _snapshot(fresh)
    assert rows == [] or (rows[0][1:3] == ("maybe", "scored") and rows[0][3] > 0)
