"""The dataset layouts and their loaders: ``protocol.layout`` -> ``(database, queries)``.

One loader per layout named in :data:`vprmetrics.data.protocol_schema.LAYOUTS`; each
reads its files inside the dataset root and returns the two :class:`SideData` in protocol
order. :func:`load_dataset` checks the counts; :func:`open_dataset` is what the CLI's
``--dataset-root`` / ``--ground-truth`` options call.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from vprmetrics.data.loaders._common import SideData
from vprmetrics.data.loaders.dataset import Dataset, assemble
from vprmetrics.data.loaders.ground_truth_file import load_ground_truth_npz
from vprmetrics.data.protocol import Protocol
from vprmetrics.errors import InputError

__all__ = ["LOADERS", "load_dataset", "open_dataset"]

Loader = Callable[[Protocol, Path], tuple[SideData, SideData]]


def _vg(protocol: Protocol, root: Path) -> tuple[SideData, SideData]:
    from vprmetrics.data.loaders.vg import load_vg_side

    opt = protocol.loader
    common = dict(
        protocol_name=protocol.name,
        coordinates=protocol.coordinates,
        use_paths_file=opt.get("images_paths_file", True),
    )
    db = load_vg_side(
        root,
        protocol.database.path,
        stride=opt.get("database_stride", 1),
        grouping=opt.get("database_grouping"),
        **common,
    )
    q = load_vg_side(root, protocol.queries.path, stride=opt.get("query_stride", 1), **common)
    return db, q


def _msls(protocol: Protocol, root: Path) -> tuple[SideData, SideData]:
    from vprmetrics.data.loaders.msls import load_msls_side

    opt = protocol.loader
    kw = dict(
        protocol_name=protocol.name,
        subtask=opt.get("subtask"),
        exclude_panoramas=opt.get("exclude_panoramas", True),
    )
    db = load_msls_side(root, protocol.database.path, opt["cities"], "database", **kw)
    q = load_msls_side(root, protocol.queries.path, opt["cities"], "query", **kw)
    return db, q


def _cvusa(protocol: Protocol, root: Path) -> tuple[SideData, SideData]:
    from vprmetrics.data.loaders.cvusa import load_cvusa_pairs

    opt = protocol.loader
    ground, aerial = load_cvusa_pairs(
        root,
        opt["split_file"],
        aerial_column=opt.get("aerial_column", 0),
        ground_column=opt.get("ground_column", 1),
        protocol_name=protocol.name,
    )
    if protocol.query_direction == "aerial-to-ground":
        return ground, aerial
    return aerial, ground


def _csv(protocol: Protocol, root: Path) -> tuple[SideData, SideData]:
    from vprmetrics.data.loaders.generic_csv import load_csv_side

    return tuple(  # type: ignore[return-value]
        load_csv_side(
            root, side.path, coordinates=protocol.coordinates, protocol_name=protocol.name
        )
        for side in (protocol.database, protocol.queries)
    )


LOADERS: dict[str, Loader] = {"vg": _vg, "msls": _msls, "cvusa": _cvusa, "csv": _csv}


def load_dataset(
    protocol: Protocol, dataset_root: str | os.PathLike[str], *, strict_counts: bool = True
) -> Dataset:
    """Load the ordered database and queries of ``protocol`` from ``dataset_root``.

    A verified count that does not match raises :class:`ProtocolError` (with
    ``strict_counts=False`` it becomes a warning: for debugging on a subset, never for
    reported numbers); an unknown or unverified one adds a line to ``Dataset.warnings``.
    """
    root = Path(dataset_root).expanduser()
    if not root.is_dir():
        raise InputError(f"dataset root {str(root)!r} is not a folder; check --dataset-root")
    db, q = LOADERS[protocol.layout](protocol, root)  # the schema admits only these layouts
    return assemble(protocol, root, db, q, strict_counts=strict_counts)


def open_dataset(
    protocol: Protocol,
    dataset_root: str | os.PathLike[str] | None = None,
    ground_truth: str | os.PathLike[str] | None = None,
) -> Dataset:
    """The dataset of ``protocol`` from a dataset folder or from a ``GT.npz`` (exactly one),
    as the ``--dataset-root`` / ``--ground-truth`` options of the CLI give them."""
    if (dataset_root is None) == (ground_truth is None):
        raise InputError(
            "give exactly one of --dataset-root DIR (the images) or --ground-truth GT.npz "
            "(precomputed coordinates)"
        )
    if ground_truth is not None:
        return load_ground_truth_npz(ground_truth, protocol)
    return load_dataset(protocol, dataset_root)  # type: ignore[arg-type]
