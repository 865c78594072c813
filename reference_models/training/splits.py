"""The training and validation splits of a protocol's dataset.

A protocol names one split (usually ``test``). The VG layout keeps ``train``, ``val`` and
``test`` side by side (``images/{train,val,test}/{database,queries}``), so the other
splits are the protocol with its split folder swapped (:func:`split_protocol`); datasets in
other layouts need a protocol of their own for each split, named instead of the split.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from vprmetrics.data.loaders import load_dataset
from vprmetrics.data.protocol import load_protocol
from vprmetrics.errors import InputError

__all__ = ["open_split", "split_protocol"]


def split_protocol(protocol: Any, split: str) -> Any:
    """The ``split`` sibling of a VG-layout protocol (``images/test/...`` -> ``images/val/...``).

    The sibling has no count to check (``count=None``) and is named ``<name>[<split>]``.
    """
    if protocol.split == split:
        return protocol
    if protocol.layout != "vg":
        raise InputError(
            f"protocol {protocol.name!r} has layout {protocol.layout!r}: give a protocol for "
            f"its {split!r} split by name"
        )

    def swap(side: Any) -> Any:
        parts = side.path.split("/")
        if protocol.split not in parts:
            raise InputError(
                f"protocol {protocol.name!r}: path {side.path!r} has no {protocol.split!r} "
                f"folder to swap for {split!r}; give a protocol for that split by name"
            )
        parts[parts.index(protocol.split)] = split
        return dataclasses.replace(
            side, path="/".join(parts), count=None, count_verified=False, scored_count=None
        )

    return dataclasses.replace(
        protocol,
        name=f"{protocol.name}[{split}]",
        split=split,
        database=swap(protocol.database),
        queries=swap(protocol.queries),
    )


def open_split(protocol_name: str, dataset_root: str | Path, split: str | None = None) -> Any:
    """Load the dataset of ``protocol_name`` from ``dataset_root``: its ``train``/``val``/
    ``test`` sibling when ``split`` is one of those words, else the protocol named
    ``split``."""
    if split is not None and split not in ("train", "val", "test"):
        return load_dataset(load_protocol(split), dataset_root)
    protocol = load_protocol(protocol_name)
    if split is not None:
        protocol = split_protocol(protocol, split)
    return load_dataset(protocol, dataset_root, strict_counts=split is None)
