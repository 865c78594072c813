"""The leaderboard store: one SQLite file (standard library ``sqlite3``, WAL mode).

A store holds one or more protocols, each fixed at ``init`` (its TOML text and sha256,
its ground truth as an ``.npz`` blob and its hash, the evaluation settings), and their
submissions: status (``scored`` or ``rejected`` with a one-line reason), provenance,
report JSON, efficiency columns and the per-query ranking facts (see :mod:`.codec`).

Every write is one ``BEGIN IMMEDIATE`` transaction: two writers queue on SQLite's lock
(up to :data:`BUSY_TIMEOUT_S`), and a process killed mid-write leaves the store as it
was (SQLite rolls the unfinished transaction back on the next open).

>>> import tempfile, pathlib
>>> store = Store(pathlib.Path(tempfile.mkdtemp()) / "lb.sqlite", create=True)
>>> store.conn.execute("PRAGMA journal_mode").fetchone()[0], store.protocols()
('wal', [])
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vprmetrics.errors import InputError
from vprmetrics.leaderboard.codec import facts_from_blob
from vprmetrics.leaderboard.schema import SCHEMA_VERSION, migrate, schema_version
from vprmetrics.ranking.facts import RankingFacts

__all__ = ["BUSY_TIMEOUT_S", "Entry", "ProtocolRecord", "Store"]

BUSY_TIMEOUT_S = 120.0

_ENTRY_COLUMNS = (
    "id",
    "protocol_id",
    "name",
    "team",
    "notes",
    "status",
    "reason",
    "submission_sha256",
    "submission_files",
    "protocol_sha256",
    "ground_truth_sha256",
    "vprmetrics_version",
    "submitted_at",
    "report_json",
    "descriptor_dim",
    "dtype",
    "bytes_per_descriptor",
    "matching_ms_per_query",
)
_PROTOCOL_COLUMNS = (
    "id",
    "name",
    "protocol_toml",
    "protocol_sha256",
    "ground_truth_sha256",
    "settings_json",
    "created_at",
    "vprmetrics_version",
)


@dataclass(frozen=True)
class ProtocolRecord:
    """A protocol as fixed at ``init`` (without its ground-truth blob)."""

    id: int
    name: str
    protocol_toml: str
    protocol_sha256: str
    ground_truth_sha256: str
    settings: dict[str, Any]
    created_at: str
    vprmetrics_version: str


@dataclass(frozen=True)
class Entry:
    """One submission row (without its facts blob: :meth:`Store.facts` reads it)."""

    id: int
    protocol_id: int
    name: str
    team: str
    notes: str
    status: str
    reason: str | None
    submission_sha256: str
    submission_files: list[str]
    protocol_sha256: str
    ground_truth_sha256: str
    vprmetrics_version: str
    submitted_at: str
    report: dict[str, Any] | None
    descriptor_dim: int | None
    dtype: str | None
    bytes_per_descriptor: int | None
    matching_ms_per_query: float | None

    def provenance(self) -> dict[str, Any]:
        """What identifies the entry's number: hashes, version, time."""
        return {
            "submission_sha256": self.submission_sha256,
            "submission_files": self.submission_files,
            "protocol_sha256": self.protocol_sha256,
            "ground_truth_sha256": self.ground_truth_sha256,
            "vprmetrics_version": self.vprmetrics_version,
            "submitted_at": self.submitted_at,
        }


def _entry(row: sqlite3.Row) -> Entry:
    values = dict(zip(_ENTRY_COLUMNS, row, strict=True))
    values["submission_files"] = json.loads(values["submission_files"])
    text = values.pop("report_json")
    return Entry(**values, report=None if text is None else json.loads(text))


class Store:
    """An open leaderboard store (``create=True`` makes the file when missing)."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = False) -> None:
        self.path = Path(path).expanduser()
        if not create and not self.path.is_file():
            raise InputError(
                f"leaderboard store {str(self.path)!r} does not exist; create it with "
                "'vprmetrics leaderboard init'"
            )
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            if schema_version(self.conn) != SCHEMA_VERSION:
                with self.transaction():
                    migrate(self.conn)
        except sqlite3.DatabaseError as err:
            self.conn.close()
            raise InputError(
                f"{self.path} is not a vprmetrics leaderboard store ({err}); give the file "
                "made by 'vprmetrics leaderboard init'"
            ) from err
        except BaseException:
            self.conn.close()
            raise

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (``BEGIN IMMEDIATE``), rolled back on error."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # ----------------------------------------------------------------- protocols

    def add_protocol(self, values: dict[str, Any]) -> int:
        """Insert a protocol (columns of the ``protocols`` table); its name must be new."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT created_at FROM protocols WHERE name = ?", (values["name"],)
            ).fetchone()
            if row:
                raise InputError(
                    f"protocol {values['name']!r} is already on this leaderboard (since "
                    f"{row[0]}); submit to it, or init another store"
                )
            cur = conn.execute(
                f"INSERT INTO protocols ({', '.join(values)}) "
                f"VALUES ({', '.join('?' * len(values))})",
                tuple(values.values()),
            )
            return int(cur.lastrowid or 0)

    def protocols(self) -> list[ProtocolRecord]:
        rows = self.conn.execute(
            f"SELECT {', '.join(_PROTOCOL_COLUMNS)} FROM protocols ORDER BY name"
        ).fetchall()
        out = []
        for row in rows:
            values = dict(zip(_PROTOCOL_COLUMNS, row, strict=True))
            values["settings"] = json.loads(values.pop("settings_json"))
            out.append(ProtocolRecord(**values))
        return out

    def protocol(self, name: str | None = None) -> ProtocolRecord:
        """The protocol called ``name``, or the only one when ``name`` is ``None``."""
        records = self.protocols()
        names = [r.name for r in records]
        if not records:
            raise InputError(f"store {self.path} has no protocol yet; run 'leaderboard init'")
        if name is None:
            if len(records) > 1:
                raise InputError(
                    f"store {self.path} holds {len(records)} protocols ({', '.join(names)}); "
                    "choose one with --protocol"
                )
            return records[0]
        for r in records:
            if r.name == name:
                return r
        raise InputError(f"store {self.path} has no protocol {name!r}; it has {', '.join(names)}")

    def ground_truth_blob(self, protocol_id: int) -> bytes:
        row = self.conn.execute(
            "SELECT ground_truth FROM protocols WHERE id = ?", (protocol_id,)
        ).fetchone()
        return bytes(row[0])

    # --------------------------------------------------------------- submissions

    def add_entry(self, values: dict[str, Any]) -> int:
        """Insert one submission (columns of ``submissions``) in one transaction, refusing
        a file already submitted (same sha256) and a name already taken."""
        with self.transaction() as conn:
            self.check_new(values["protocol_id"], values["name"], values["submission_sha256"])
            return self._insert(conn, values)

    def _insert(self, conn: sqlite3.Connection, values: dict[str, Any]) -> int:
        cur = conn.execute(
            f"INSERT INTO submissions ({', '.join(values)}) "
            f"VALUES ({', '.join('?' * len(values))})",
            tuple(values.values()),
        )
        return int(cur.lastrowid or 0)

    def check_new(self, protocol_id: int, name: str, sha256: str) -> None:
        """Raise when ``sha256`` was submitted before or ``name`` is taken."""
        row = self.conn.execute(
            "SELECT id, name, status, submitted_at FROM submissions "
            "WHERE protocol_id = ? AND submission_sha256 = ?",
            (protocol_id, sha256),
        ).fetchone()
        if row:
            raise InputError(
                f"this file (sha256 {sha256[:12]}) was already submitted as {row[1]!r} "
                f"(entry #{row[0]}, {row[2]}, {row[3]}); each file is scored once"
            )
        row = self.conn.execute(
            "SELECT id FROM submissions WHERE protocol_id = ? AND name = ?", (protocol_id, name)
        ).fetchone()
        if row:
            raise InputError(f"the name {name!r} is taken (entry #{row[0]}); choose another --name")

    def entries(self, protocol_id: int, status: str | None = None) -> list[Entry]:
        """The protocol's submissions in submission order (all, or one ``status``)."""
        sql = f"SELECT {', '.join(_ENTRY_COLUMNS)} FROM submissions WHERE protocol_id = ?"
        args: tuple[Any, ...] = (protocol_id,)
        if status is not None:
            sql += " AND status = ?"
            args += (status,)
        return [_entry(row) for row in self.conn.execute(sql + " ORDER BY id", args)]

    def entry(self, protocol_id: int, name: str) -> Entry:
        for e in self.entries(protocol_id):
            if e.name == name:
                return e
        names = ", ".join(repr(e.name) for e in self.entries(protocol_id)) or "none yet"
        raise InputError(f"no submission named {name!r}; the submissions are {names}")

    def facts(self, entry_id: int) -> RankingFacts:
        row = self.conn.execute(
            "SELECT facts FROM submissions WHERE id = ?", (entry_id,)
        ).fetchone()
        if row is None or row[0] is None:
            raise InputError(f"entry #{entry_id} has no ranking facts (it was rejected)")
        return facts_from_blob(bytes(row[0]))
