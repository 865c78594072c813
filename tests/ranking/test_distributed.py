"""Shards on a Dask cluster give bitwise the facts and report of a single-process run."""

from __future__ import annotations

import csv
import itertools
import json
import os
from pathlib import Path

import numpy as np
import pytest

from vprmetrics import Positives
from vprmetrics.cli import main
from vprmetrics.ranking import shards as shards_module
from vprmetrics.ranking.engine import rank
from vprmetrics.ranking.shards import (
    RowRange,
    ShardedRows,
    database_shards,
    rank_sharded,
    split_rows,
)

distributed = pytest.importorskip("distributed")

CUTS = (0, 37, 1100, 1101, 2000)  # unequal shards, one of a single row


def _tied_problem(seed=3, n=2000, nq=60, dim=6):
    """Quantized rows: thousands of exact ties with every query's best positive."""
    rng = np.random.default_rng(seed)
    database = rng.integers(0, 3, size=(n, dim)).astype(np.float32)
    database[500:700] = database[10]  # a block of duplicates
    queries = rng.integers(0, 3, size=(nq, dim)).astype(np.float32)
    du = np.c_[np.arange(n) * 3.0, np.zeros(n)]
    qu = np.c_[rng.uniform(0, 3 * n, nq), rng.uniform(-5, 5, nq)]
    qu[:3] = [1e7, 0]  # queries without a positive
    return queries, database, du, qu


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    queries, database, du, qu = _tied_problem()
    for name, value in {"q": queries, "db": database, "du": du, "qu": qu}.items():
        np.save(tmp / f"{name}.npy", value)
    (tmp / "shards").mkdir()
    for i, (a, b) in enumerate(itertools.pairwise(CUTS)):
        np.save(tmp / "shards" / f"part{i:02d}.npy", database[a:b])
    return tmp


def _evaluate(tmp: Path, out: str, database: list[str], *extra: str) -> int:
    return main(
        ["evaluate", "--queries", str(tmp / "q.npy"), "--database", *database,
         "--query-utm", str(tmp / "qu.npy"), "--database-utm", str(tmp / "du.npy"),
         "--radius", "10", "--recall-at", "1,5,10,20", "--recall-at-percent", "1,5",
         "--no-positive", "exclude", "--json", str(tmp / f"{out}.json"),
         "--per-query", str(tmp / f"{out}.csv"), *extra]
    )  # fmt: skip


def _report(tmp: Path, out: str) -> tuple[dict, list]:
    report = json.loads((tmp / f"{out}.json").read_text())
    assert report.pop("timing")["ranking_s"] > 0  # the one value that may differ
    with open(tmp / f"{out}.csv") as f:
        return report, list(csv.reader(f))


def test_cli_on_two_worker_processes_matches_single_process(data):
    assert _evaluate(data, "single", [str(data / "db.npy")]) == 0
    assert _evaluate(data, "folder", [str(data / "shards")], "--workers", "2") == 0
    assert _evaluate(data, "cut", [str(data / "db.npy")], "--workers", "2") == 0
    files = sorted(str(p) for p in (data / "shards").glob("*.npy"))
    assert _evaluate(data, "files", files) == 0  # several shards, one process
    single = _report(data, "single")
    assert single[0]["tie_bounds"]["recall_at_n"]["1"]["gap"] > 0  # ties do matter here
    for out in ("folder", "cut", "files"):
        assert _report(data, out) == single


def test_facts_on_a_process_cluster_are_bitwise_equal(data):
    queries, database, du, qu = _tied_problem()
    gt = Positives.from_lists([np.flatnonzero(np.abs(du[:, 0] - x) <= 10) for x in qu[:, 0]], 2000)
    expected = rank(queries, database, gt, k=25)
    sources = [*database_shards([data / "shards"])[:2], database[1100:1101],
               RowRange(str(data / "db.npy"), 1101, 2000)]  # fmt: skip
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        got = rank_sharded(queries, sources, gt, k=25, block_size=97, client=client)
    assert got == expected
    assert np.any(expected.tied_negatives > 100)


def test_database_shards_resolves_files_folders_and_ranges(data, tmp_path):
    folder = database_shards([data / "shards"])
    assert [Path(p).name for p in folder] == [f"part{i:02d}.npy" for i in range(4)]
    ranges = split_rows(*database_shards([data / "db.npy"]), 3)
    assert [(r.start, r.stop) for r in ranges] == [(0, 666), (666, 1333), (1333, 2000)]
    assert len(ShardedRows.open(ranges)) == 2000
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"holds no \.npy shard"):
        database_shards([tmp_path / "empty"])
    with pytest.raises(ValueError, match="does not exist"):
        database_shards([tmp_path / "missing.npy"])


@pytest.fixture
def thread_cluster():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _flaky(failures: list[int]):
    real = shards_module.scan_one

    def scan(state, shard, index, offset, block_size):
        if index == 1 and failures[0] > 0:
            failures[0] -= 1
            raise OSError("the worker lost its disk")
        return real(state, shard, index, offset, block_size)

    return scan


def test_a_failed_shard_is_retried_then_fails_cleanly(thread_cluster, monkeypatch):
    from vprmetrics.ranking.distributed import ClusterError

    queries, database, _, _ = _tied_problem(nq=10)
    gt = Positives.from_lists([[i, i + 1] for i in range(10)], 2000)
    parts = np.split(database, [300, 1500])
    monkeypatch.setattr(shards_module, "scan_one", _flaky([1]))
    got = rank_sharded(queries, parts, gt, k=5, client=thread_cluster, retries=1)
    assert got == rank(queries, database, gt, k=5)
    monkeypatch.setattr(shards_module, "scan_one", _flaky([5]))
    with pytest.raises(ClusterError, match=r"shard 1 .*from row 300.* after 1 retries: OSError"):
        rank_sharded(queries, parts, gt, k=5, client=thread_cluster, retries=1)


def test_unreachable_scheduler_is_one_line_and_writes_nothing(data, capsys):
    rc = _evaluate(data, "none", [str(data / "db.npy")], "--scheduler", "tcp://127.0.0.1:9")
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in err
    assert not os.path.exists(data / "none.json")


def _rows_or_die(marker: str, test_pid: int, rows: np.ndarray):
    """Unpickled in a worker process the first time: that worker dies (os._exit). In
    this process (where the local scheduler unpickles tasks too) it stays deadly."""
    if os.getpid() == test_pid:
        return _KillsItsFirstWorker(rows, marker)
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return rows


class _KillsItsFirstWorker:
    """Rows that kill the first worker process they are sent to."""

    def __init__(self, rows: np.ndarray, marker: str) -> None:
        self.rows, self.marker = rows, marker
        self.shape, self.dtype, self.ndim = rows.shape, rows.dtype, rows.ndim

    def __getitem__(self, ids):
        return self.rows[ids]

    def __reduce__(self):
        return (_rows_or_die, (self.marker, os.getpid(), self.rows))


def test_a_worker_dying_mid_run_has_its_shard_retried(tmp_path):
    queries, database, _, _ = _tied_problem(nq=10)
    gt = Positives.from_lists([[i, i + 1] for i in range(10)], 2000)
    deadly = _KillsItsFirstWorker(database[700:], str(tmp_path / "died"))
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        got = rank_sharded(queries, [database[:700], deadly], gt, k=5, client=client)
    assert (tmp_path / "died").exists()  # a worker did die
    assert got == rank(queries, database, gt, k=5)
