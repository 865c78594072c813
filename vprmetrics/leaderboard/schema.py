"""The leaderboard store's SQL schema, versioned, with its migrations.

The version lives in SQLite's ``PRAGMA user_version``; :data:`MIGRATIONS` lists, for
version ``v`` (1-based), the statements that take a store from ``v - 1`` to ``v``.
:func:`migrate` applies the missing ones inside the caller's transaction, so a store is
never left half-migrated. A store written by a newer vprmetrics is refused.

* v1: protocols (settings, hashes and ground truth fixed at ``init``) and submissions
  (status, provenance, report JSON, per-query ranking facts as an ``.npz`` blob).
* v2: efficiency columns (descriptor dim and dtype, bytes per descriptor, matching time
  per query), backfilled from each report's ``efficiency`` section.

>>> import sqlite3
>>> conn = sqlite3.connect(":memory:")
>>> migrate(conn)
2
>>> conn.execute("PRAGMA user_version").fetchone()[0]
2
"""

from __future__ import annotations

import sqlite3

from vprmetrics.errors import InputError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate", "schema_version"]

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE protocols (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            protocol_toml TEXT NOT NULL,
            protocol_sha256 TEXT NOT NULL,
            ground_truth BLOB NOT NULL,
            ground_truth_sha256 TEXT NOT NULL,
            settings_json TEXT NOT NULL,
            created_at TEXT NOT NULL,
            vprmetrics_version TEXT NOT NULL
        )""",
        """CREATE TABLE submissions (
            id INTEGER PRIMARY KEY,
            protocol_id INTEGER NOT NULL REFERENCES protocols(id),
            name TEXT NOT NULL,
            team TEXT NOT NULL DEFAULT '',
            notes TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL CHECK (status IN ('scored', 'rejected')),
            reason TEXT,
            submission_sha256 TEXT NOT NULL,
            submission_files TEXT NOT NULL,
            protocol_sha256 TEXT NOT NULL,
            ground_truth_sha256 TEXT NOT NULL,
            vprmetrics_version TEXT NOT NULL,
            submitted_at TEXT NOT NULL,
            report_json TEXT,
            facts BLOB,
            CHECK ((status = 'scored') = (report_json IS NOT NULL AND facts IS NOT NULL)),
            UNIQUE (protocol_id, name),
            UNIQUE (protocol_id, submission_sha256)
        )""",
    ),
    (
        "ALTER TABLE submissions ADD COLUMN descriptor_dim INTEGER",
        "ALTER TABLE submissions ADD COLUMN dtype TEXT",
        "ALTER TABLE submissions ADD COLUMN bytes_per_descriptor INTEGER",
        "ALTER TABLE submissions ADD COLUMN matching_ms_per_query REAL",
        """UPDATE submissions SET
            descriptor_dim = json_extract(report_json, '$.efficiency.descriptor_dim'),
            dtype = json_extract(report_json, '$.efficiency.dtype'),
            bytes_per_descriptor = json_extract(report_json, '$.efficiency.bytes_per_descriptor'),
            matching_ms_per_query =
                json_extract(report_json, '$.efficiency.matching_ms_per_query')
            WHERE report_json IS NOT NULL""",
        "CREATE INDEX submissions_by_protocol ON submissions (protocol_id, status)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    """The store's schema version (0 for an empty database)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the migrations from the store's version up to ``target``; returns ``target``.

    Run it inside a write transaction (``BEGIN IMMEDIATE``) so that two processes never
    migrate at once and a failure rolls every step back.
    """
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise InputError(
            f"the leaderboard store has schema version {current} but this vprmetrics knows "
            f"up to {SCHEMA_VERSION}; upgrade vprmetrics"
        )
    for version in range(current + 1, target + 1):
        for statement in MIGRATIONS[version - 1]:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version}")
    return max(current, target)
