"""What both hosts share: the protocol of a ground-truth file, scoring, flat metrics.

The protocol is named inside ``GT.npz`` (its ``protocol`` array, written by
``save_ground_truth_npz``), or given explicitly (a name, or a ``.toml`` path); a
protocol that does not ship with vprmetrics can also be found through the folders in
``VPRMETRICS_PROTOCOLS``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vprmetrics.data.loaders import load_ground_truth_npz
from vprmetrics.data.protocol import Protocol, load_protocol
from vprmetrics.errors import InputError
from vprmetrics.leaderboard.columns import columns
from vprmetrics.leaderboard.scoring import DEFAULT_SETTINGS, score_submission

__all__ = ["flat_metrics", "protocol_of", "score_files"]


def protocol_of(
    ground_truth: str | os.PathLike[str], protocol: str | os.PathLike[str] | None = None
) -> Protocol:
    """``protocol`` when given, else the protocol named in the ground-truth file."""
    if protocol is not None:
        return load_protocol(protocol)
    path = Path(ground_truth)
    if not path.is_file():
        raise InputError(f"ground-truth file {str(path)!r} does not exist; check the path")
    try:
        with np.load(path, allow_pickle=False) as npz:
            name = str(npz["protocol"]) if "protocol" in npz.files else None
    except (ValueError, OSError) as err:
        raise InputError(f"ground-truth file {path} is not a valid .npz ({err})") from err
    if name is None:
        raise InputError(
            f"ground-truth file {path} names no protocol; write it with "
            "save_ground_truth_npz or give the protocol explicitly"
        )
    return load_protocol(name)


def score_files(
    ground_truth: str | os.PathLike[str],
    files: Sequence[str | os.PathLike[str]],
    protocol: Protocol,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report of ``files`` (one ``.npz`` or two ``.npy``) against ``ground_truth``
    under ``protocol`` (see :func:`protocol_of`); an invalid submission raises its
    one-line error."""
    dataset = load_ground_truth_npz(ground_truth, protocol)
    fixed = {**DEFAULT_SETTINGS, **(settings or {})}
    report, _ = score_submission(protocol, dataset, files, fixed)
    return report


def flat_metrics(report: Mapping[str, Any], *, slugs: bool = False) -> dict[str, float]:
    """Every metric as published (percent; PSSR as a fraction), keyed ``R@1`` ... or, with
    ``slugs``, ``recall_at_1`` ...

    >>> flat_metrics({"recall_at_n": {"1": 0.5}, "pssr": {"mean": 0.9}}, slugs=True)
    {'recall_at_1': 50.0, 'pssr': 0.9}
    """
    return {(c.slug if slugs else c.key): c.shown(report) for c in columns(report)}
