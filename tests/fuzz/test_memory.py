"""Peak memory stays bounded on inputs that once blew it up: each case runs the command
line in a subprocess whose address space is capped (``RLIMIT_AS``), so an allocation past
the cap fails there instead of swapping the test machine."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import numpy as np
import pytest

from tests.fuzz import builders as b

THOROUGH = pytest.mark.skipif(
    os.environ.get("VPRMETRICS_FUZZ") != "thorough", reason="thorough profile only (slow)"
)
CAP = 1536 * 2**20  # 1.5 GiB of address space: the interpreter, numpy and scipy need ~0.4


def _capped():
    resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))


def _run_capped(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OPENBLAS_NUM_THREADS": "1"}
    env["OMP_NUM_THREADS"] = "1"
    code = "import sys; from vprmetrics.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=_capped,
        timeout=300,
    )


def _refused(proc: subprocess.CompletedProcess, needle: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and needle in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_archive_claiming_2_gib_is_refused_before_it_inflates(world, tmp_path):
    b.size_claiming_archive(tmp_path / "bomb.npz", rows=2**23, dim=64, queries=12)
    proc = _run_capped(world.protocol_args(submission=str(tmp_path / "bomb.npz")))
    _refused(proc, "rows but 40 are expected")


@THOROUGH
def test_zip_bomb_is_refused_before_it_inflates(world, tmp_path):
    # 2 MB on disk, 2 GiB inflated: more than the cap
    b.zip_bomb(tmp_path / "bomb.npz", rows=2**23, dim=64, queries=12)
    assert (tmp_path / "bomb.npz").stat().st_size < 8 * 2**20
    proc = _run_capped(world.protocol_args(submission=str(tmp_path / "bomb.npz")))
    _refused(proc, "rows but 40 are expected")


def test_huge_declared_coordinates_are_refused(world, tmp_path):
    (tmp_path / "qu.npy").write_bytes(b.huge_npy_header(2**40, 2))  # 14 TiB claimed
    _refused(_run_capped(world.raw_args(**{"query-utm": str(tmp_path / "qu.npy")})), "limit")


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """500 queries x 200,000 database items of dim 2 (what once took 11.7 GB at N=200000)."""
    d = tmp_path_factory.mktemp("wide")
    rng = np.random.default_rng(0)
    np.save(d / "q.npy", rng.standard_normal((500, 2)).astype(np.float32))
    np.save(d / "db.npy", rng.standard_normal((200_000, 2)).astype(np.float32))
    return ["evaluate", "--queries", str(d / "q.npy"), "--database", str(d / "db.npy")]


def test_recall_at_past_the_limit_is_refused(wide):
    _refused(_run_capped([*wide, "--one-to-one", "--recall-at", "200000"]), "limit")


def test_n_resamples_past_the_limit_is_refused(wide):
    _refused(_run_capped([*wide, "--one-to-one", "--n-resamples", "2000000"]), "n-resamples")


@THOROUGH
def test_largest_allowed_recall_at_fits_under_the_cap(wide):
    proc = _run_capped([*wide, "--one-to-one", "--recall-at", "10000", "--n-resamples", "50"])
    assert proc.returncode == 0, proc.stderr
