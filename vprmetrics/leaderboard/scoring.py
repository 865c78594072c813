"""Score one submission the way ``vprmetrics evaluate --protocol`` does, for the store.

The path is the CLI's own, :func:`vprmetrics.data.scoring.evaluate_submission` (row
counts checked from the headers, validation, panoramas and query crops, the report's
``protocol``, ``efficiency`` and ``positive_radius_m``), under the settings fixed at
``init``; its warnings are kept in the report under ``warnings``. A protocol and its
ground truth are kept in the store as text and bytes, and rebuilt here.
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
from vprmetrics.data.scoring import evaluate_submission
from vprmetrics.ranking.facts import RankingFacts

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

#: The fixed settings that are arguments of ``evaluate`` (``n_permutations`` is not).
_EVALUATE_KEYS = ("metric", "ties", "seed", "n_resamples", "confidence")


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
        **{k: settings[k] for k in _EVALUATE_KEYS},
    }


def score_submission(
    protocol: Protocol,
    dataset: Dataset,
    files: Sequence[str | os.PathLike[str]],
    settings: Mapping[str, Any],
    *,
    backend: str = "numpy",
) -> tuple[dict[str, Any], RankingFacts]:
    """Validate and score ``files`` (one ``.npz`` or two ``.npy``) with
    :func:`~vprmetrics.data.scoring.evaluate_submission` under the fixed ``settings``:
    the report (its non-fatal notes under ``warnings``) and the facts.

    Raises the one-line error of the first problem when the submission is invalid.
    """
    notes: list[str] = []
    ev, report = evaluate_submission(
        protocol,
        dataset,
        files,
        warn=notes.append,
        backend=backend,
        progress=False,
        **{k: settings[k] for k in _EVALUATE_KEYS},
    )
    if notes:
        report["warnings"] = notes
    return report, ev.facts
