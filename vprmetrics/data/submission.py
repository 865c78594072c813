"""Submitted descriptors: loading without pickle, validation against a protocol, hashing.

A submission is a ``.npz`` with float arrays ``queries`` and ``database`` (one row per
image, in protocol order) and optional unicode arrays ``query_ids`` and ``database_ids``
(image paths relative to the dataset root), an optional integer ``query_groups`` (one label
per query row, the rows of a query consecutive: several crops of one query, ranked by the
closest; ``query_ids`` then has one entry per group), or two ``.npy`` files (queries, database),
which are memory-mapped. Submissions are untrusted: nothing is ever unpickled, and
:func:`validate_submission` reports every problem as one line with its fix.

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
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from vprmetrics.checks import SafeNpz, load_npy, regular_file
from vprmetrics.errors import InputError, InputTypeError, ProtocolError

if TYPE_CHECKING:
    from vprmetrics.data.loaders import Dataset
    from vprmetrics.data.protocol import Protocol
    from vprmetrics.geo.positives import Positives

__all__ = [
    "Problem",
    "Submission",
    "descriptor_stats",
    "expected_rows",
    "load_submission",
    "provenance",
    "raise_for_problems",
    "submission_hash",
    "validate_submission",
]

_KEYS = ("queries", "database", "query_ids", "database_ids", "query_groups")
_CHUNK_ELEMENTS = 1 << 24
MAX_SENSIBLE_DIM = 65536


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


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`validate_submission`: ``severity`` and a one-line message
    that says what is wrong and how to fix it."""

    severity: Literal["error", "warning"]
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


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
    found by :func:`validate_submission`. ``expected_rows`` (queries, database), when
    known, is checked against the declared shapes before any array is read.
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


# ------------------------------------------------------------------------ validation


def _row_chunks(array: np.ndarray):
    step = max(1, _CHUNK_ELEMENTS // max(1, array.shape[1]))
    for start in range(0, array.shape[0], step):
        yield start, np.asarray(array[start : start + step])


def _finite_problem(array: np.ndarray, name: str) -> Problem | None:
    bad_rows, first = 0, -1
    for start, chunk in _row_chunks(array):
        bad = ~np.isfinite(chunk).all(axis=1)
        if bad.any():
            if first < 0:
                first = start + int(np.flatnonzero(bad)[0])
            bad_rows += int(bad.sum())
    if bad_rows:
        return Problem(
            "error",
            f"{name} has {bad_rows} rows with NaN or inf (first: row {first}); "
            "recompute or repair those descriptors",
        )
    return None


def _all_identical(array: np.ndarray) -> bool:
    if array.shape[0] < 2:
        return False
    first = np.asarray(array[0])
    return all(bool((chunk == first).all()) for _, chunk in _row_chunks(array))


def _check_ids(
    ids: np.ndarray | None, name: str, rows: int, expected: np.ndarray | None
) -> list[Problem]:
    if ids is None:
        return []
    if ids.dtype.kind != "U" or ids.ndim != 1:
        return [
            Problem(
                "error",
                f"{name} must be a 1-D unicode string array, got dtype {ids.dtype} and shape "
                f"{ids.shape}; save it with np.asarray(ids, dtype=str)",
            )
        ]
    if ids.shape[0] != rows:
        return [
            Problem(
                "error",
                f"{name} has {ids.shape[0]} entries but there are {rows} descriptor rows; "
                "give one id per row",
            )
        ]
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        dup = str(uniq[np.argmax(counts > 1)])
        return [Problem("error", f"{name} repeats {dup!r}; each image must appear once")]
    if expected is None or np.array_equal(ids, expected):
        return []
    if expected.shape[0] == ids.shape[0] and np.array_equal(np.sort(ids), np.sort(expected)):
        row = int(np.flatnonzero(ids != expected)[0])
        return [
            Problem(
                "error",
                f"{name} lists the right images in a different order (row {row}: got "
                f"{str(ids[row])!r}, protocol order has {str(expected[row])!r}); "
                f"reorder the rows to the protocol order (the order of load_dataset(...).{name})",
            )
        ]
    unknown = np.setdiff1d(ids, expected)
    missing = np.setdiff1d(expected, ids)
    detail = []
    if unknown.size:
        detail.append(f"{unknown.size} not in the protocol, e.g. {str(unknown[0])!r}")
    if missing.size:
        detail.append(f"{missing.size} protocol images missing, e.g. {str(missing[0])!r}")
    return [
        Problem(
            "error",
            f"{name} do not match the protocol's images ({'; '.join(detail)}); ids must be "
            "paths relative to the dataset root, in protocol order",
        )
    ]


def _group_problems(groups: np.ndarray, rows: int) -> list[Problem]:
    from vprmetrics.ranking.groups import group_lims

    try:
        group_lims(groups, rows, "query_groups")
    except (InputError, InputTypeError) as err:
        return [Problem("error", str(err))]
    return []


def validate_submission(
    submission: Submission, protocol: Protocol, dataset: Dataset | None = None
) -> list[Problem]:
    """Every problem of ``submission`` for ``protocol`` (errors first), without scoring.

    Checks: 2-D float arrays, equal dims, finite values, row counts against the dataset
    (or the protocol's counts when no dataset is given), ids and their order when given,
    a sensible dim; all rows identical is a warning (it scores chance level).
    """
    problems: list[Problem] = []
    arrays = {"queries": submission.queries, "database": submission.database}
    shaped = True
    for name, arr in arrays.items():
        if arr.dtype.kind not in "f":
            problems.append(
                Problem(
                    "error",
                    f"{name} has dtype {arr.dtype}, expected float16/32/64; save it with "
                    f"{name}.astype('float32')",
                )
            )
        if arr.ndim != 2 or 0 in arr.shape:
            shaped = False
            problems.append(
                Problem(
                    "error",
                    f"{name} has shape {arr.shape}, expected a non-empty (n, dim) array; "
                    "stack one descriptor per row",
                )
            )
    if shaped and submission.queries.shape[1] != submission.database.shape[1]:
        problems.append(
            Problem(
                "error",
                f"queries have dim {submission.queries.shape[1]} but database has "
                f"{submission.database.shape[1]}; extract both with the same model",
            )
        )
    if submission.query_groups is None and submission.queries.ndim and submission.database.ndim:
        counts = (submission.queries.shape[0], submission.database.shape[0])
        message = swapped_message(counts, expected_rows(protocol, dataset), "submission")
        if message is not None:
            return [Problem("error", message)]
    expected_ids: dict[str, np.ndarray | None] = {"query_ids": None, "database_ids": None}
    for name, key, side, ids_key in (
        ("queries", "queries", protocol.queries, "query_ids"),
        ("database", "database", protocol.database, "database_ids"),
    ):
        arr = arrays[key]
        rows = arr.shape[0] if arr.ndim >= 1 else 0
        if key == "queries" and submission.query_groups is not None:
            problems += _group_problems(submission.query_groups, rows)
            rows = submission.n_query_rows_expected
        if dataset is not None:
            expected = dataset.query_ids if key == "queries" else dataset.database_ids
            expected_ids[ids_key] = expected
            if rows != expected.shape[0]:
                problems.append(
                    Problem(
                        "error",
                        f"{name} has {rows} rows but the dataset of protocol "
                        f"{protocol.name!r} has {expected.shape[0]} {key} images; give one "
                        "row per image, in protocol order",
                    )
                )
        elif side.count is not None and rows != side.count:
            severity: Literal["error", "warning"] = "error" if side.count_verified else "warning"
            problems.append(
                Problem(
                    severity,
                    f"{name} has {rows} rows but protocol {protocol.name!r} expects "
                    f"{side.count}{'' if side.count_verified else ' (unverified count)'}; "
                    "give one row per image, in protocol order",
                )
            )
        if arr.dtype.kind == "f" and arr.ndim == 2 and 0 not in arr.shape:
            finite = _finite_problem(arr, name)
            if finite is not None:
                problems.append(finite)
            elif _all_identical(arr):
                problems.append(
                    Problem(
                        "warning",
                        f"all {rows} {name} rows are identical; the model output is "
                        "collapsed and will score chance level: check the export",
                    )
                )
    for ids_key, ids, arr in (
        ("query_ids", submission.query_ids, submission.queries),
        ("database_ids", submission.database_ids, submission.database),
    ):
        rows = arr.shape[0] if arr.ndim >= 1 else 0
        if ids_key == "query_ids" and submission.query_groups is not None:
            rows = submission.n_query_rows_expected
        problems += _check_ids(ids, ids_key, rows, expected_ids[ids_key])
    if shaped:
        dim = submission.queries.shape[1]
        if dim > MAX_SENSIBLE_DIM:
            problems.append(
                Problem(
                    "warning",
                    f"descriptor dim {dim} is unusually large; check that a feature map was "
                    "not flattened instead of pooled",
                )
            )
        elif dim == 1:
            problems.append(
                Problem("warning", "descriptor dim is 1; check the arrays are not transposed")
            )
    if dataset is None and protocol.queries.count is None:
        problems.append(
            Problem(
                "warning",
                f"protocol {protocol.name!r} does not know its query count and no dataset was "
                "given, so row counts were not checked; pass --dataset-root",
            )
        )
    for key in submission.ignored_keys:
        problems.append(Problem("warning", f"array {key!r} in the submission is ignored"))
    problems.sort(key=lambda p: p.severity != "error")
    return problems


def raise_for_problems(problems: Sequence[Problem]) -> None:
    """Raise :class:`ProtocolError` with the first error (and how many there are), if any."""
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        more = f" (and {len(errors) - 1} more: run vprmetrics validate)" if len(errors) > 1 else ""
        raise ProtocolError(f"invalid submission: {errors[0].message}{more}")


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
