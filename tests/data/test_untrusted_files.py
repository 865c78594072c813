"""Every malformed array file is refused with one line that names it, never a traceback,
never pickle, never an allocation the header merely claims."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from tests.fuzz import builders as b
from vprmetrics import input_limits
from vprmetrics.data.submission import load_submission
from vprmetrics.errors import VPRMetricsError
from vprmetrics.npyio import SafeNpz, load_npy

GOOD = np.arange(12, dtype=np.float32).reshape(3, 4)

NPY_CASES = {
    "empty": (b"", "is empty"),
    "four bytes": (b"\x93NUM", "only 4 bytes"),
    "text": (b"queries,database\n1,2\n", "not a .npy file"),
    "random": (bytes(range(7, 250, 3)), "not a .npy file"),
    "bare pickle": (b.pickle_bytes(), "not a .npy file"),
    "object array": (b.object_npy_bytes(), "Python objects"),
    "npz for npy": (b.npz_bytes(queries=GOOD), "is an .npz"),
    "malformed header": (b.npy_with_header("{'descr': '<f4', 'shape': (3, 4)"), "malformed"),
    "header not a dict": (b.npy_with_header("[1, 2, 3]"), "malformed"),
    "bad version": (b.npy_with_header("{}", version=(9, 0)), "malformed"),
    "truncated": (b.npy_bytes(GOOD)[:-5], "truncated"),
    "huge shape": (b.huge_npy_header(), "limit"),
    "negative shape": (
        b.npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-3, 4), }"),
        "malformed",
    ),
}


@pytest.mark.parametrize("mmap", [True, False])
@pytest.mark.parametrize("case", sorted(NPY_CASES))
def test_bad_npy_is_one_line(tmp_path, case, mmap, monkeypatch):
    monkeypatch.setenv(b.MARKER_ENV, str(tmp_path / "marker"))
    data, needle = NPY_CASES[case]
    (tmp_path / "q.npy").write_bytes(data)
    with pytest.raises(VPRMetricsError, match=needle) as err:
        load_npy(tmp_path / "q.npy", "queries", mmap=mmap)
    assert "\n" not in str(err.value) and "q.npy" in str(err.value)
    assert not (tmp_path / "marker").exists()


def test_folder_and_device_are_not_called_missing(tmp_path):
    with pytest.raises(VPRMetricsError, match="is a folder"):
        load_npy(tmp_path, "queries")
    with pytest.raises(VPRMetricsError, match="not a regular file"):
        load_npy("/dev/zero", "queries")
    with pytest.raises(VPRMetricsError, match="does not exist"):
        load_npy(tmp_path / "none.npy", "queries")


def test_in_memory_read_checks_the_declared_size_first(tmp_path, monkeypatch):
    np.save(tmp_path / "c.npy", np.zeros((1000, 2)))
    monkeypatch.setattr(input_limits, "MAX_IN_MEMORY_BYTES", 1000)
    monkeypatch.setattr("vprmetrics.npyio.MAX_IN_MEMORY_BYTES", 1000)
    with pytest.raises(VPRMetricsError, match="GiB in memory"):
        load_npy(tmp_path / "c.npy", "coords", mmap=False)
    assert load_npy(tmp_path / "c.npy", "coords").shape == (1000, 2)  # memory-mapped


def _zip_cases():
    stored = b.npz_bytes(queries=GOOD, database=GOOD)
    return {
        "not a zip": (b"hello world, no zip here", "not an .npz"),
        "npy for npz": (b.npy_bytes(GOOD), "single .npy"),
        "truncated": (stored[: len(stored) // 2], "corrupt or truncated"),
        "crc": (b.with_flipped_data_byte(stored), "corrupt or truncated"),
        "method 99": (b.with_compression_method(stored, 99), "compression method 99"),
        "encrypted": (b.with_encrypted_flag(stored), "encrypted"),
        "member not npy": (b.zip_bytes({"queries.txt": b"1 2 3"}), "is not a .npy"),
        "member pickle": (
            b.zip_bytes({"queries.npy": b.pickle_bytes(), "database.npy": b.npy_bytes(GOOD)}),
            "not a .npy file",
        ),
        "member object": (
            b.zip_bytes({"queries.npy": b.object_npy_bytes(), "database.npy": b.npy_bytes(GOOD)}),
            "Python objects",
        ),
        "member huge": (
            b.zip_bytes({"queries.npy": b.huge_npy_header(), "database.npy": b.npy_bytes(GOOD)}),
            "limit",
        ),
        "member lies about its size": (
            b.zip_bytes(
                {"queries.npy": b.huge_npy_header(5, 4), "database.npy": b.npy_bytes(GOOD)}
            ),
            "archive stores",
        ),
        "empty member": (b.zip_bytes({"queries.npy": b""}), "is empty"),
    }


@pytest.mark.parametrize("case", sorted(_zip_cases()))
def test_bad_npz_is_one_line(tmp_path, case, monkeypatch):
    monkeypatch.setenv(b.MARKER_ENV, str(tmp_path / "marker"))
    data, needle = _zip_cases()[case]
    (tmp_path / "s.npz").write_bytes(data)
    with pytest.raises(VPRMetricsError, match=needle) as err:
        load_submission(tmp_path / "s.npz")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "marker").exists()


def test_deflated_npz_reads_like_numpy(tmp_path):
    (tmp_path / "s.npz").write_bytes(
        b.npz_bytes(zipfile.ZIP_DEFLATED, queries=GOOD, database=GOOD[:2])
    )
    sub = load_submission(tmp_path / "s.npz")
    assert np.array_equal(sub.queries, GOOD) and np.array_equal(sub.database, GOOD[:2])
    with SafeNpz(tmp_path / "s.npz", "s") as npz:
        assert npz.header("database").shape == (2, 4) and "queries" in npz


def test_declared_rows_are_checked_before_inflating(tmp_path, monkeypatch):
    b.zip_bomb(tmp_path / "bomb.npz", rows=4096, dim=64)
    reads = []
    monkeypatch.setattr(np.lib.format, "read_array", lambda *a, **k: reads.append(a))
    with pytest.raises(VPRMetricsError, match="4096 rows but 10 are expected"):
        load_submission(tmp_path / "bomb.npz", expected_rows=(2, 10))
    assert reads == []  # nothing was inflated
