"""The store: rejected and duplicate submissions, refusals that store nothing, the
schema's migrations, and files that are not stores."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
from dataclasses import fields, replace

import numpy as np
import pytest

from vprmetrics.cli import main
from vprmetrics.data.loaders import load_ground_truth_npz, save_ground_truth_npz
from vprmetrics.data.protocol import load_protocol
from vprmetrics.errors import InputError
from vprmetrics.leaderboard import Leaderboard
from vprmetrics.leaderboard.codec import arrays_from_blob
from vprmetrics.leaderboard.schema import SCHEMA_VERSION, migrate
from vprmetrics.leaderboard.scoring import protocol_from_text, score_submission
from vprmetrics.leaderboard.store import Store


def _count(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM submissions").fetchone()[0]


def test_submit_scores_through_the_evaluate_path(fresh, world, capsys):
    args = ["leaderboard", "submit", str(fresh), str(world["winner"]), "--name", "w"]
    assert main([*args, "--team", "t", "--notes", "n"]) == 0
    assert capsys.readouterr().out.startswith("scored 'w' (entry #1, sha256 ")
    assert main(["evaluate", "--protocol", str(world["protocol"]), "--ground-truth",
                 str(world["gt"]), "--submission", str(world["winner"]), "--json",
                 str(fresh.parent / "r.json")]) == 0  # fmt: skip
    cli = json.loads((fresh.parent / "r.json").read_text())
    with Leaderboard(fresh) as board:
        entry = board.store.entries(1)[0]
    for key in ("recall_at_n", "recall_at_percent", "pssr", "confidence_intervals", "protocol"):
        assert entry.report[key] == cli[key]
    assert entry.provenance()["ground_truth_sha256"] == cli["protocol"]["ground_truth_sha256"]
    assert (entry.descriptor_dim, entry.dtype, entry.bytes_per_descriptor) == (32, "float32", 128)
    assert entry.matching_ms_per_query > 0 and (entry.team, entry.notes) == ("t", "n")


def test_invalid_submission_is_recorded_as_rejected(fresh, world, capsys):
    args = ["leaderboard", "submit", str(fresh), str(world["nan"]), "--name", "bad"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "rejected 'bad' (recorded as entry #1)" in err and "NaN" in err
    with Store(fresh) as store:
        (entry,) = store.entries(1)
        assert entry.status == "rejected" and entry.report is None
        with pytest.raises(InputError, match="rejected"):
            store.facts(entry.id)


def test_same_file_twice_is_refused_naming_the_earlier_entry(fresh, world, capsys):
    assert main(["leaderboard", "submit", str(fresh), str(world["winner"]), "--name", "a"]) == 0
    copy = fresh.parent / "renamed.npz"
    shutil.copy(world["winner"], copy)
    assert main(["leaderboard", "submit", str(fresh), str(copy), "--name", "b"]) == 2
    err = capsys.readouterr().err
    assert "already submitted as 'a' (entry #1, scored" in err and err.count("\n") == 1
    assert main(["leaderboard", "submit", str(fresh), str(world["nan"]), "--name", "r"]) == 2
    assert main(["leaderboard", "submit", str(fresh), str(world["nan"]), "--name", "r2"]) == 2
    assert "already submitted as 'r' (entry #2, rejected" in capsys.readouterr().err
    assert _count(fresh) == 2


def test_a_taken_name_is_refused(fresh, world, capsys):
    assert main(["leaderboard", "submit", str(fresh), str(world["winner"]), "--name", "a"]) == 0
    assert main(["leaderboard", "submit", str(fresh), str(world["mid-a"]), "--name", " a "]) == 2
    assert "the name 'a' is taken (entry #1)" in capsys.readouterr().err
    assert main(["leaderboard", "submit", str(fresh), str(world["mid-a"]), "--name", " "]) == 2
    assert "--name is empty" in capsys.readouterr().err
    assert _count(fresh) == 1


def test_missing_files_and_unknown_stores_are_one_line_errors(fresh, tmp_path, capsys):
    missing = str(tmp_path / "nope.npz")
    assert main(["leaderboard", "submit", str(fresh), missing, "--name", "x"]) == 2
    assert "does not exist" in capsys.readouterr().err and _count(fresh) == 0
    assert main(["leaderboard", "show", str(tmp_path / "none.sqlite")]) == 2
    assert "create it with 'vprmetrics leaderboard init'" in capsys.readouterr().err
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    assert main(["leaderboard", "show", str(junk)]) == 2
    assert "is not a vprmetrics leaderboard store" in capsys.readouterr().err


def test_init_fixes_the_protocol_once(fresh, world, capsys):
    args = ["leaderboard", "init", str(fresh), "--protocol", str(world["protocol"])]
    assert main([*args, "--ground-truth", str(world["gt"])]) == 2
    assert "already on this leaderboard" in capsys.readouterr().err
    with Store(fresh) as store:
        (record,) = store.protocols()
        assert record.settings["ties"] == "expected" and record.settings["n_permutations"] == 9999
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_store_made_by_schema_v1_is_migrated(board, tmp_path):
    """Copy the shared board's rows into a v1 store by hand, then open it."""
    old = tmp_path / "v1.sqlite"
    conn = sqlite3.connect(old, isolation_level=None)
    migrate(conn, target=1)
    src = sqlite3.connect(board.store.path)
    v1 = [r[1] for r in conn.execute("PRAGMA table_info(submissions)")]
    proto_cols = [r[1] for r in conn.execute("PRAGMA table_info(protocols)")]
    for table, cols in (("protocols", proto_cols), ("submissions", v1)):
        for row in src.execute(f"SELECT {', '.join(cols)} FROM {table}"):
            conn.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * len(cols))})", row)
    conn.close()
    src.close()
    assert "descriptor_dim" not in v1
    with Leaderboard(old) as migrated:
        assert migrated.store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        entries = {e.name: e for e in migrated.store.entries(1)}
        assert entries["winner"].descriptor_dim == 32 and entries["winner"].dtype == "float32"
        assert entries["winner"].matching_ms_per_query > 0
        assert entries["nan"].descriptor_dim is None
        ranks = [r.rank for r in migrated.standings().rows]
    assert ranks == [r.rank for r in board.standings().rows]


def test_a_store_from_a_newer_vprmetrics_is_refused(fresh):
    with sqlite3.connect(fresh) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(InputError, match="upgrade vprmetrics"):
        Store(fresh)


def test_a_failed_migration_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=1)
    conn.close()
    from vprmetrics.leaderboard import schema

    broken = (*schema.MIGRATIONS[1][:-1], "CREATE INDEX broken ON nothing (x)")
    monkeypatch.setattr(schema, "MIGRATIONS", (schema.MIGRATIONS[0], broken))
    with pytest.raises(InputError, match="not a vprmetrics leaderboard store"):
        Store(path)
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == 1
        cols = [r[1] for r in check.execute("PRAGMA table_info(submissions)")]
        assert "descriptor_dim" not in cols


def test_stored_facts_equal_a_fresh_ranking_and_are_compact(board, world):
    record = board.store.protocol()
    entry = board.store.entry(record.id, "winner")
    stored = board.store.facts(entry.id)
    protocol = protocol_from_text(record.name, record.protocol_toml, record.protocol_sha256)
    _, fresh = score_submission(protocol, board.dataset(record), [world["winner"]], record.settings)
    assert stored == fresh
    blob = board.store.conn.execute(
        "SELECT facts FROM submissions WHERE id = ?", (entry.id,)
    ).fetchone()[0]
    arrays = [getattr(fresh, f.name) for f in fields(fresh)]
    raw = sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))
    assert len(blob) < raw


def test_names_with_control_characters_are_refused(fresh, world):
    with Leaderboard(fresh) as board, pytest.raises(InputError, match="control characters"):
        board.submit([world["winner"]], "two\nlines")


def test_one_store_holds_several_protocols(fresh, world, tmp_path, capsys):
    # a second protocol: the same street under another name, with its own GT.npz
    text = world["protocol"].read_text().replace('name = "lbtown"', 'name = "lbtown-b"')
    (tmp_path / "lbtown-b.toml").write_text(text)
    second = load_protocol(tmp_path / "lbtown-b.toml")
    ds = load_ground_truth_npz(world["gt"], load_protocol(world["protocol"]))
    save_ground_truth_npz(tmp_path / "GT-b.npz", replace(ds, protocol=second))
    args = ["leaderboard", "init", str(fresh), "--protocol", str(tmp_path / "lbtown-b.toml")]
    assert main([*args, "--ground-truth", str(tmp_path / "GT-b.npz"), "--ties", "optimistic"]) == 0
    submit = ["leaderboard", "submit", str(fresh), str(world["winner"]), "--name", "w"]
    assert main(submit) == 2
    assert "holds 2 protocols (lbtown, lbtown-b); choose one with --protocol" in (
        capsys.readouterr().err
    )
    assert main([*submit, "--protocol", "lbtown-b"]) == 0
    with Leaderboard(fresh) as board:
        assert board.standings("lbtown-b").rows[0].report["ties"] == "optimistic"
        assert board.standings("lbtown").rows == []
        site = board.build_site(tmp_path / "site")
    index = (site / "index.html").read_text()
    assert "1-lbtown/index.html" in index and "2-lbtown-b/index.html" in index
    assert "No scored submission yet" in (site / "1-lbtown" / "index.html").read_text()


def test_a_blob_with_python_objects_is_never_unpickled():
    buf = io.BytesIO()
    np.savez(buf, d_star=np.array([object()], dtype=object))
    with pytest.raises(InputError, match=r"not a valid \.npz blob"):
        arrays_from_blob(buf.getvalue(), "ranking facts")


def test_a_ground_truth_edited_by_hand_is_detected(fresh, world):
    with sqlite3.connect(fresh) as conn:
        conn.execute("UPDATE protocols SET ground_truth_sha256 = 'edited'")
    with Leaderboard(fresh) as board, pytest.raises(InputError, match="does not match its hash"):
        board.submit([world["winner"]], "w")
    assert _count(fresh) == 0
