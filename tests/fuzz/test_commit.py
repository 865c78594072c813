"""commit_files: every output or none, file modes kept, no temporary file left, errors that
name the target and the fix."""

from __future__ import annotations

import errno
import os

import pytest

import vprmetrics.files as files
from vprmetrics.errors import OutputError
from vprmetrics.files import commit_files


def _old(tmp_path):
    targets = [tmp_path / "r.json", tmp_path / "q.csv", tmp_path / "r.md"]
    for t in targets:
        t.write_bytes(b"old")
    return targets


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_a_failed_write_changes_nothing(tmp_path, monkeypatch, fail_at):
    targets = _old(tmp_path)
    calls = []
    real = os.fsync

    def failing_fsync(fd):
        calls.append(fd)
        if len(calls) == fail_at:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(files.os, "fsync", failing_fsync)
    with pytest.raises(OutputError) as err:
        commit_files([(t, b"new") for t in targets])
    message = str(err.value)
    assert "No space left" in message and str(targets[fail_at - 1]) in message
    assert ".vprtmp" not in message and "free space" in message
    assert [t.read_bytes() for t in targets] == [b"old"] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.csv", "r.json", "r.md"]


def test_modes_are_kept_and_new_files_follow_the_umask(tmp_path):
    kept = tmp_path / "kept.json"
    kept.write_text("{}")
    kept.chmod(0o640)
    old = os.umask(0o027)
    try:
        commit_files([(kept, b"1"), (tmp_path / "new.json", b"2")])
    finally:
        os.umask(old)
    assert kept.stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o640


def test_created_folders_are_removed_on_failure(tmp_path):
    folder = tmp_path / "a"
    folder.mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        commit_files([(tmp_path / "new" / "deep" / "r.json", b"1"), (folder, b"2")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_bad_target_lists(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="given twice"):
        commit_files([(tmp_path / "r.json", b"1"), (tmp_path / "." / "r.json", b"2")])
    with pytest.raises(OutputError, match="is a file, not a folder"):
        commit_files([(tmp_path / "file" / "r.json", b"1")])
    with pytest.raises(OutputError, match="empty"):
        commit_files([("", b"1")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_stale_temporaries_of_dead_processes_are_swept(tmp_path):
    dead = tmp_path / ".r.json.vprtmp-999999999-abcd1234"
    alive = tmp_path / f".r.json.vprtmp-{os.getppid()}-abcd1234"
    other = tmp_path / ".r.json.tmp-notours"
    for p in (dead, alive, other):
        p.write_text("x")
    commit_files([(tmp_path / "r.json", b"1")])
    assert not dead.exists() and alive.exists() and other.exists()
