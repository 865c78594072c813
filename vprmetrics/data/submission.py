"""Submitted descriptors: loading without pickle, validation against a protocol, hashing.

A submission is a ``.npz`` with float arrays ``queries`` and ``database`` (one row per
image, in protocol order) and optional unicode arrays ``query_ids`` and ``database_ids``
(image paths relative to the dataset root), an optional integer ``query_groups`` (one label
per query row, the rows of a query consecutive: several crops of one query, ranked by the
closest; ``query_ids`` then has one entry per group), or two ``.npy`` files (queries, database),
which are memory-mapped. Submissions are untrusted: nothing is ever unpickled, and
:func:`vprmetrics.data.validation.validate_submission` reports every problem as one line
with its fix.

>>> import numpy as np, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "s.npz"
>>> np.savez(path, queries=np.eye(2, 4, dtype="float32"), database=np.eye(3, 4, dtype="float32"))
>>> sub = load_submission(path)
>>> sub.queries.shape, sub.database.shape, sub.query_ids
((2, 4), (3, 4), None)
>>> descriptor_stats(sub)["bytes_per_descriptor"]
16
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vprmetrics.errors import InputError
from vprmetrics.npyio import SafeNpz, load_npy, regular_file

if TYPE_CHECKING:
    from vprmetrics.data.loaders import Dataset
    from vprmetrics.data.protocol import Protocol
    from vprmetrics.geo.positives import Positives

__all__ = [
    "Submission",
    "descriptor_stats",
    "expected_rows",
    "load_submission",
    "provenance",
    "report_sections",
    "submission_hash",
]

_KEYS = ("queries", "database", "query_ids", "database_ids", "query_groups")


@dataclass(frozen=True, eq=False)
class Submission:
    """Loaded submission arrays (not yet validated) and the files they came from."""

    queries: np.ndarray
    database: np.ndarray
    query_ids: np.ndarray | None
    database_ids: np.ndarray | None
    paths: tuple[Path, ...]
    ignored_keys: tuple[str, ...] = ()
    query_groups: np.ndarray | None = None

    @property
    def n_query_rows_expected(self) -> int:
        """Query images the rows stand for: the groups' count with ``query_groups``."""
        g = self.query_groups
        if g is None:
            return int(self.queries.shape[0]) if self.queries.ndim >= 1 else 0
        return int(g.max()) + 1 if g.size and np.issubdtype(g.dtype, np.integer) else 0

    @property
    def sha256(self) -> str:
        """See :func:`submission_hash`."""
        return submission_hash(self.paths)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def submission_hash(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> str:
    """sha256 of the submission's bytes, streamed. One file: the sha256 of its bytes (what
    ``sha256sum`` prints). Two ``.npy`` files: the sha256 of the text
    ``"queries:<sha256>\\ndatabase:<sha256>\\n"``."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    files = [Path(p) for p in paths]
    if len(files) == 1:
        return _sha256_file(files[0])
    text = f"queries:{_sha256_file(files[0])}\ndatabase:{_sha256_file(files[1])}\n"
    return hashlib.sha256(text.encode()).hexdigest()


def _check_rows(name: str, shape: tuple[int, ...], expected: int | None, where: str) -> None:
    if expected is not None and len(shape) >= 1 and shape[0] != expected:
        raise InputError(
            f"{where}: {name} has {shape[0]} rows but {expected} are expected; give one row "
            "per image, in protocol order"
        )


def swapped_message(
    rows: tuple[int, int], expected: tuple[int | None, int | None], where: str
) -> str | None:
    """The one-line error when the queries and database look swapped: their row counts
    are the expected ones the other way round (``None`` otherwise).

    >>> swapped_message((100, 20), (20, 100), "submission s.npz")[:60]
    'submission s.npz: queries has 100 rows and database 20, but '
    """
    (nq, nd), (eq, ed) = rows, expected
    if None in (eq, ed) or eq == ed or (nq, nd) != (ed, eq):
        return None
    return (
        f"{where}: queries has {nq} rows and database {nd}, but the protocol has {eq} queries "
        f"and {ed} database images: the two look swapped; give the queries first "
        "(--submission queries.npy database.npy, or np.savez(path, queries=..., database=...))"
    )


def _check_swapped(shapes, expected: tuple[int | None, int | None], where: str) -> None:
    rows = tuple(s[0] if len(s) >= 1 else 0 for s in shapes)
    message = swapped_message(rows, expected, where)  # type: ignore[arg-type]
    if message is not None:
        raise InputError(message)


def expected_rows(protocol: Protocol, dataset: Dataset | None) -> tuple[int | None, int | None]:
    """The row counts a submission must have: the dataset's, else the protocol's verified
    counts, else unknown (``None``)."""
    if dataset is not None:
        return dataset.n_queries, dataset.n_database
    return tuple(  # type: ignore[return-value]
        side.count if side.count_verified else None
        for side in (protocol.queries, protocol.database)
    )


def load_submission(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    expected_rows: tuple[int | None, int | None] = (None, None),
) -> Submission:
    """Load a ``.npz`` submission, or a ``(queries.npy, database.npy)`` pair (memory-mapped).

    Only container problems raise here (missing or corrupt file, missing array, pickled
    objects, a declared size past :mod:`vprmetrics.input_limits`); content problems are
    found by :func:`~vprmetrics.data.validation.validate_submission`. ``expected_rows``
    (queries, database), when known, is checked against the declared shapes before any
    array is read.
    """
    if isinstance(path, str | os.PathLike):
        paths = [Path(path).expanduser()]
    else:
        paths = [Path(p).expanduser() for p in path]
    if len(paths) == 2:
        for p in paths:
            if p.suffix != ".npy":
                raise InputError(
                    f"submission file {p} is not .npy; give queries.npy database.npy or one .npz"
                )
        q = load_npy(paths[0], "queries")
        db = load_npy(paths[1], "database")
        _check_swapped((q.shape, db.shape), expected_rows, f"submission {paths[0].name}")
        for name, arr, rows, p in zip(
            ("queries", "database"), (q, db), expected_rows, paths, strict=True
        ):
            _check_rows(name, arr.shape, rows, f"submission {p}")
        return Submission(q, db, None, None, tuple(paths))
    if len(paths) != 1:
        raise InputError(
            f"got {len(paths)} submission files; give one .npz or two .npy (queries, database)"
        )
    p = regular_file(paths[0], "submission file")
    if p.suffix == ".npy":
        raise InputError(
            f"submission {p} is a single .npy; give queries.npy and database.npy, or one .npz"
        )
    with SafeNpz(p, "submission") as npz:
        for key in ("queries", "database"):
            if key not in npz:
                raise InputError(
                    f"submission {p} has no {key!r} array (it has: "
                    f"{', '.join(npz.files) or 'nothing'}); save it with "
                    "np.savez(path, queries=..., database=...)"
                )
        if "query_groups" not in npz:
            shapes = (npz.header("queries").shape, npz.header("database").shape)
            _check_swapped(shapes, expected_rows, f"submission {p}")
        for key, rows in zip(("queries", "database"), expected_rows, strict=True):
            if key == "queries" and "query_groups" in npz:
                continue  # several rows (crops) per query: validate_submission counts groups
            _check_rows(key, npz.header(key).shape, rows, f"submission {p}")
        arrays = {k: npz[k] for k in _KEYS if k in npz}
        ignored = tuple(sorted(set(npz.files) - set(_KEYS)))
    return Submission(
        arrays["queries"],
        arrays["database"],
        arrays.get("query_ids"),
        arrays.get("database_ids"),
        (p,),
        ignored,
        arrays.get("query_groups"),
    )


# ------------------------------------------------------------------------ report parts


def descriptor_stats(submission: Submission) -> dict[str, Any]:
    """Efficiency figures read from the submission itself: dim, dtype, bytes per
    descriptor, and the memory of the database and query arrays."""
    db, q = submission.database, submission.queries
    dim = int(db.shape[1]) if db.ndim == 2 else None
    per = int(db.dtype.itemsize * (dim or 0))
    return {
        "descriptor_dim": dim,
        "dtype": str(db.dtype),
        "bytes_per_descriptor": per,
        "database_bytes": int(db.nbytes),
        "queries_bytes": int(q.nbytes),
        "n_database": int(db.shape[0]),
        "n_queries": int(q.shape[0]),
    }


def provenance(
    protocol: Protocol, positives: Positives, submission: Submission | None = None
) -> dict[str, Any]:
    """What a report records so that two reports can be compared safely: protocol name
    and file hash, ground-truth hash, vprmetrics version, submission hash."""
    from vprmetrics._version import __version__
    from vprmetrics.data.loaders import ground_truth_hash
    from vprmetrics.data.protocol import protocol_hash

    out: dict[str, Any] = {
        "protocol": protocol.name,
        "protocol_sha256": protocol_hash(protocol),
        "ground_truth_sha256": ground_truth_hash(positives),
        "vprmetrics_version": __version__,
    }
    if submission is not None:
        out["submission_sha256"] = submission.sha256
        out["submission_files"] = [p.name for p in submission.paths]
    return out


def report_sections(
    protocol: Protocol, positives: Positives, submission: Submission
) -> dict[str, Any]:
    """The report sections a protocol-scored submission adds: ``protocol`` (its
    :func:`provenance`, name and file hash) and ``efficiency`` (:func:`descriptor_stats`)."""
    from vprmetrics.data.protocol import protocol_hash

    return {
        "protocol": {
            **provenance(protocol, positives, submission),
            "name": protocol.name,
            "sha256": protocol_hash(protocol),
        },
        "efficiency": descriptor_stats(submission),
    }
