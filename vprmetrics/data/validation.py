"""Validation of a loaded submission against a protocol: every problem, one line each.

:func:`validate_submission` checks 2-D float arrays, equal dims, finite values, row
counts against the dataset (or the protocol's counts), ids and their order when given, a
sensible dim and query groups; all rows identical is a warning (it scores chance level).
:func:`raise_for_problems` turns the first error into the one-line CLI error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from vprmetrics.data.submission import Submission, expected_rows, swapped_message
from vprmetrics.errors import InputError, InputTypeError, ProtocolError

if TYPE_CHECKING:
    from vprmetrics.data.loaders import Dataset
    from vprmetrics.data.protocol import Protocol

__all__ = ["MAX_SENSIBLE_DIM", "Problem", "raise_for_problems", "validate_submission"]

_CHUNK_ELEMENTS = 1 << 24
MAX_SENSIBLE_DIM = 65536


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`validate_submission`: ``severity`` and a one-line message
    that says what is wrong and how to fix it."""

    severity: Literal["error", "warning"]
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


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
