"""Score one submission the way ``vprmetrics evaluate --protocol`` does, for the store.

The path is the CLI's: load without pickle, :func:`validate_submission` against the
protocol's dataset (errors raise with their one-line message), then
:func:`~vprmetrics.report.evaluation.evaluate` with the protocol's cut-offs, convention
and no-positive rule, and the report sections ``protocol`` (provenance) and
``efficiency`` (descriptor size and matching time per query). A protocol and its ground
truth are kept in the store as text and bytes, and rebuilt here.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vprmetrics.data.loaders import Dataset, load_ground_truth_npz, save_ground_truth_npz
from vprmetrics.data.protocol import Protocol
from vprmetrics.data.protocol_schema import parse_protocol
from vprmetrics.data.submission import load_submission, report_sections
from vprmetrics.data.validation import raise_for_problems, validate_submission
from vprmetrics.errors import ProtocolError
from vprmetrics.ranking.facts import RankingFacts
from vprmetrics.report.evaluation import evaluate

__all__ = [
    "DEFAULT_SETTINGS",
    "dataset_from_blob",
    "evaluation_settings",
    "ground_truth_blob",
    "protocol_from_text",
    "score_submission",
]

#: What ``init`` fixes for a protocol (``--metric``, ``--ties``, ...), with defaults.
DEFAULT_SETTINGS: dict[str, Any] = {
    "metric": "l2",
    "ties": "expected",
    "seed": 0,
    "n_resamples": 1000,
    "confidence": 0.95,
    "n_permutations": 9999,
}


def protocol_from_text(name: str, text: str, sha256: str) -> Protocol:
    """The protocol stored as TOML text (validated again, as when it was a file)."""
    return parse_protocol(tomllib.loads(text), Path(f"{name}.toml"), sha256)


def ground_truth_blob(dataset: Dataset) -> bytes:
    """``dataset``'s ids, coordinates and positives as ``GT.npz`` bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gt.npz"
        save_ground_truth_npz(path, dataset, include_positives=True)
        return path.read_bytes()


def dataset_from_blob(protocol: Protocol, blob: bytes) -> Dataset:
    """The dataset written by :func:`ground_truth_blob` (read without pickle)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gt.npz"
        path.write_bytes(blob)
        return load_ground_truth_npz(path, protocol)


def evaluation_settings(protocol: Protocol, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``evaluate`` for ``protocol`` under the fixed settings."""
    return {
        **protocol.evaluation_defaults(),
        **{k: settings[k] for k in ("metric", "ties", "seed", "n_resamples", "confidence")},
    }


def score_submission(
    protocol: Protocol,
    dataset: Dataset,
    files: Sequence[str | os.PathLike[str]],
    settings: Mapping[str, Any],
    *,
    backend: str = "numpy",
) -> tuple[dict[str, Any], RankingFacts]:
    """Validate and score ``files`` (one ``.npz`` or two ``.npy``): the report and facts.

    Raises the one-line error of the first problem when the submission is invalid.
    """
    if dataset.database_groups is not None:
        raise ProtocolError(
            f"protocol {protocol.name!r} ranks panoramas (one distance per group of cutouts), "
            "which this version cannot score yet; use the cutout protocol 'tokyo247'"
        )
    submission = load_submission(files[0] if len(files) == 1 else list(files))
    problems = validate_submission(submission, protocol, dataset)
    raise_for_problems(problems)
    positives = dataset.ground_truth()
    ev = evaluate(
        submission.queries,
        submission.database,
        positives,
        query_coords=dataset.query_coords,
        database_coords=dataset.database_coords,
        backend=backend,
        progress=False,
        **evaluation_settings(protocol, settings),
    )
    report: dict[str, Any] = {**report_sections(protocol, positives, submission), **ev.report}
    report["efficiency"]["matching_ms_per_query"] = report["timing"]["per_query_ms"]
    notes = [*dataset.warnings, *(p.message for p in problems if p.severity != "error")]
    if notes:
        report["warnings"] = notes
    return report, ev.facts
