"""Score one submission under a protocol: the one path of ``vprmetrics evaluate --protocol``,
the leaderboard and the hosting adapters.

:func:`evaluate_submission` loads the files without pickle, checking their row counts
against the dataset from the ``.npy`` headers before any array is read; runs
:func:`~vprmetrics.data.validation.validate_submission` (errors raise with their one-line
message, warnings go to ``warn``); ranks panoramas instead of cutouts when the dataset
groups its database rows (``Dataset.database_groups``, e.g. ``tokyo247-netvlad``) and
queries by their crops when the submission has ``query_groups``; then runs
:func:`~vprmetrics.report.evaluation.evaluate` with the protocol's cut-offs, convention
and no-positive rule, and adds the report sections ``protocol`` (provenance),
``efficiency`` (descriptor size and matching time per query) and ``positive_radius_m``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from vprmetrics.data.loaders import Dataset
from vprmetrics.data.protocol import Protocol
from vprmetrics.data.submission import expected_rows, load_submission, report_sections
from vprmetrics.data.validation import raise_for_problems, validate_submission
from vprmetrics.input_limits import check_top_k
from vprmetrics.report.evaluation import Evaluation, EvaluationSettings, evaluate

__all__ = ["evaluate_submission", "grouped_database"]


def grouped_database(
    database: np.ndarray, coords: np.ndarray | None, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``database`` rows ordered by group (stable, so each group's rows are consecutive as
    :func:`~vprmetrics.report.evaluation.evaluate` needs), the coordinates of each group's
    first row, and the sorted labels (``evaluate``'s ``database_groups``). Labels number
    the groups ``0 .. g - 1``; rows already in group order are not copied.

    >>> db = np.array([[0.0], [1.0], [2.0]])
    >>> rows, coords, groups = grouped_database(db, np.array([[5, 5], [6, 6], [7, 7]]),
    ...                                         np.array([1, 0, 1]))
    >>> rows.ravel().tolist(), coords.tolist(), groups.tolist()
    ([1.0, 0.0, 2.0], [[6, 6], [5, 5]], [0, 1, 1])
    """
    order = np.argsort(labels, kind="stable")
    if not np.array_equal(order, np.arange(labels.size)):
        database = np.asarray(database)[order]
    sorted_labels = labels[order]
    first = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    group_coords = None if coords is None else np.asarray(coords)[order][first]
    return database, group_coords, sorted_labels


def evaluate_submission(
    protocol: Protocol,
    dataset: Dataset,
    files: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    warn: Callable[[str], object] | None = None,
    **settings: Any,
) -> tuple[Evaluation, dict[str, Any]]:
    """Validate and score ``files`` (one ``.npz`` or two ``.npy``) against ``dataset``
    under ``protocol``: the :class:`~vprmetrics.report.evaluation.Evaluation` and the
    report (``evaluate --json``'s: the evaluation's, with ``protocol``, ``efficiency`` and
    ``positive_radius_m``).

    ``settings`` are keyword arguments of :func:`~vprmetrics.report.evaluation.evaluate`
    (``metric``, ``ties``, ``seed``, ``backend``, ``ranker``, ``recall_at``, ...); they
    override the protocol's :meth:`~vprmetrics.data.protocol.Protocol.evaluation_defaults`.
    Each non-fatal note (the dataset's warnings, then the validation's) is passed to
    ``warn`` as one line, before any error is raised; an invalid submission raises the
    one-line error of its first problem (:class:`~vprmetrics.errors.ProtocolError`), a
    file whose header declares the wrong row count an
    :class:`~vprmetrics.errors.InputError` before any array is read.

    >>> from vprmetrics.data.protocol import load_protocol
    >>> p = load_protocol("synthtown")
    >>> ds = Dataset(p, None, np.array(["d0", "d1"]), np.array(["q0"]),
    ...              np.array([[0.0, 0.0], [90.0, 0.0]]), np.array([[1.0, 0.0]]))
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.npz"
    >>> np.savez(path, queries=np.eye(1, 4, dtype="f4"), database=np.eye(2, 4, dtype="f4"))
    >>> ev, report = evaluate_submission(p, ds, path, recall_at=[1], recall_at_percent=[50],
    ...                                  n_resamples=10, warn=lambda note: None)
    >>> report["recall_at_n"], report["positive_radius_m"], report["protocol"]["name"]
    ({'1': 1.0}, 25.0, 'synthtown')
    """
    submission = load_submission(files, expected_rows=expected_rows(protocol, dataset))
    problems = validate_submission(submission, protocol, dataset)
    notes = [*dataset.warnings, *(p.message for p in problems if p.severity != "error")]
    if warn is not None:
        for note in notes:
            warn(note)
    raise_for_problems(problems)
    database, d_coords, groups = submission.database, dataset.database_coords, None
    if dataset.database_groups is not None:  # rank groups (panoramas) by their closest row
        database, d_coords, groups = grouped_database(database, d_coords, dataset.database_groups)
    positives = dataset.ground_truth() if groups is None else dataset.grouped_ground_truth()
    merged = {**protocol.evaluation_defaults(), **settings}
    check_top_k(
        len(submission.queries), max(merged.get("recall_at") or EvaluationSettings.recall_at)
    )
    ev = evaluate(
        submission.queries,
        database,
        positives,
        query_coords=dataset.query_coords,
        database_coords=d_coords,
        database_groups=groups,
        query_groups=submission.query_groups,  # several crops per query: the closest counts
        **merged,
    )
    report: dict[str, Any] = {
        **report_sections(protocol, positives, submission),
        "positive_radius_m": protocol.radius_m,
        **ev.report,
    }
    report["efficiency"]["matching_ms_per_query"] = report["timing"]["per_query_ms"]
    return ev, report
