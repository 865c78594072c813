"""The ground-truth file (``GT.npz``): a dataset's ids and coordinates without its images.

For users who have the coordinates but not the images: :func:`save_ground_truth_npz`
writes it atomically, :func:`load_ground_truth_npz` reads it without pickle and checks it
against the protocol; :func:`ground_truth_hash` fingerprints the positives for reports.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from vprmetrics.checks import as_coordinates, as_headings
from vprmetrics.data.loaders._common import SideData
from vprmetrics.data.loaders.dataset import Dataset, assemble
from vprmetrics.data.protocol import Protocol
from vprmetrics.errors import InputError, InputTypeError, ProtocolError
from vprmetrics.files import save_npz_atomic
from vprmetrics.geo.positives import Positives
from vprmetrics.npyio import SafeNpz

__all__ = ["ground_truth_hash", "load_ground_truth_npz", "save_ground_truth_npz"]


def ground_truth_hash(positives: Positives) -> str:
    """sha256 (hex) of a ground truth: its database size and CSR arrays as little-endian
    int64. Equal hashes mean the same positives for the same queries, in the same order.

    >>> ground_truth_hash(Positives.one_to_one(2))[:12]
    '925e3ca08d9c'
    """
    h = hashlib.sha256(b"vprmetrics-positives-v1")
    h.update(np.int64(positives.n_database).astype("<i8").tobytes())
    h.update(positives.lims.astype("<i8").tobytes())
    h.update(positives.ids.astype("<i8").tobytes())
    return h.hexdigest()


_OPTIONAL_ARRAYS = (
    "database_coords",
    "query_coords",
    "database_headings",
    "query_headings",
    "database_groups",
    "database_regions",
    "query_regions",
)
_GT_KEYS = {
    "protocol",
    "database_ids",
    "query_ids",
    *_OPTIONAL_ARRAYS,
    "positives_lims",
    "positives_ids",
}


def save_ground_truth_npz(
    path: str | os.PathLike[str], dataset: Dataset, *, include_positives: bool = False
) -> None:
    """Write ``dataset``'s ids, coordinates (and optional headings, groups, regions, and
    with ``include_positives`` the CSR positives) to ``path`` atomically."""
    arrays: dict[str, np.ndarray] = {
        "protocol": np.asarray(dataset.protocol.name, dtype=str),
        "database_ids": np.asarray(dataset.database_ids, dtype=str),
        "query_ids": np.asarray(dataset.query_ids, dtype=str),
    }
    for key in _OPTIONAL_ARRAYS:
        value = getattr(dataset, key)
        if value is not None:
            arrays[key] = np.asarray(value)
    if include_positives or dataset.positives is not None:
        gt = dataset.ground_truth()
        arrays["positives_lims"], arrays["positives_ids"] = gt.lims, gt.ids
    save_npz_atomic(path, **arrays)


def _ids(npz: SafeNpz, key: str, path: Path) -> np.ndarray:
    if key not in npz:
        raise InputError(
            f"ground-truth file {path} has no {key!r} array; add it (see docs/submissions.md)"
        )
    arr = npz[key]
    if arr.dtype.kind != "U" or arr.ndim != 1:
        raise InputTypeError(
            f"ground-truth file {path}: {key} must be a 1-D unicode string array, got dtype "
            f"{arr.dtype} and shape {arr.shape}; save it with np.asarray(ids, dtype=str)"
        )
    return arr


def _integers(arr: np.ndarray, key: str, path: Path, n: int | None = None) -> np.ndarray:
    """A 1-D integer array (never a float or string array truncated to integers)."""
    if arr.dtype.kind not in "iu" or arr.ndim != 1 or (n is not None and arr.shape[0] != n):
        size = "a 1-D array" if n is None else f"{n} values"
        raise InputTypeError(
            f"ground-truth file {path}: {key} must be {size} of integers, got dtype "
            f"{arr.dtype} and shape {arr.shape}; save it with .astype('int64')"
        )
    return arr.astype(np.int64)


def _sorted_rows(positives: Positives) -> Positives:
    """The same positives with each query's ids sorted and repeats dropped (a file may list
    them in any order; the engine expects each row ascending and unique).

    >>> _sorted_rows(Positives(np.array([0, 3]), np.array([2, 0, 2]), 3)).ids.tolist()
    [0, 2]
    """
    query = positives.query_of_entry
    order = np.lexsort((positives.ids, query))
    q, ids = query[order], positives.ids[order]
    keep = np.ones(ids.size, dtype=bool)
    keep[1:] = (q[1:] != q[:-1]) | (ids[1:] != ids[:-1])
    lims = np.zeros(positives.n_queries + 1, dtype=np.int64)
    lims[1:] = np.cumsum(np.bincount(q[keep], minlength=positives.n_queries))
    return Positives(lims, ids[keep], positives.n_database)


def load_ground_truth_npz(
    path: str | os.PathLike[str], protocol: Protocol, *, strict_counts: bool = True
) -> Dataset:
    """Read a ``GT.npz`` (see :func:`save_ground_truth_npz`) without pickle and check it
    against ``protocol`` (counts as in :func:`load_dataset`, protocol name when stored)."""
    path = Path(path).expanduser()
    with SafeNpz(path, "ground-truth file") as npz:
        unknown = sorted(set(npz.files) - _GT_KEYS)
        warnings = tuple(f"ground-truth file {path}: array {k!r} is not used" for k in unknown)
        if "protocol" in npz.files:
            stored = str(npz["protocol"])
            if stored != protocol.name:
                raise ProtocolError(
                    f"ground-truth file {path} was made for protocol {stored!r}, not "
                    f"{protocol.name!r}; pass --protocol {stored} or rebuild the file"
                )
        db_ids, q_ids = _ids(npz, "database_ids", path), _ids(npz, "query_ids", path)
        nd, nq = db_ids.shape[0], q_ids.shape[0]
        got = {k: npz[k] for k in npz.files if k in _GT_KEYS and k != "protocol"}
    positives = None
    if "positives_lims" in got or "positives_ids" in got:
        if not ("positives_lims" in got and "positives_ids" in got):
            raise InputError(
                f"ground-truth file {path} needs both positives_lims and positives_ids, or neither"
            )
        positives = _sorted_rows(
            Positives(
                _integers(got["positives_lims"], "positives_lims", path, nq + 1),
                _integers(got["positives_ids"], "positives_ids", path),
                nd,
            )
        )
        if positives.n_queries != nq:
            raise InputError(
                f"ground-truth file {path}: positives_lims describes {positives.n_queries} "
                f"queries but query_ids has {nq}; rebuild the file"
            )
    coords = {}
    for key, n in (("database_coords", nd), ("query_coords", nq)):
        coords[key] = as_coordinates(got[key], f"{path.name}:{key}", n) if key in got else None
    if positives is None and not protocol.one_to_one and any(v is None for v in coords.values()):
        raise InputError(
            f"ground-truth file {path} has neither database_coords/query_coords nor "
            "positives_lims/positives_ids; add one of them"
        )
    head = {}
    for key, n in (("database_headings", nd), ("query_headings", nq)):
        head[key] = as_headings(got[key], f"{path.name}:{key}", n) if key in got else None
    ints: dict[str, np.ndarray | None] = {}
    for key, n in (("database_groups", nd), ("database_regions", nd), ("query_regions", nq)):
        if key in got:
            ints[key] = _integers(got[key], key, path, n)
        else:
            ints[key] = None
    db = SideData(
        db_ids,
        coords["database_coords"],
        head["database_headings"],
        ints["database_groups"],
        ints["database_regions"],
    )
    q = SideData(q_ids, coords["query_coords"], head["query_headings"], None, ints["query_regions"])
    return assemble(protocol, None, db, q, positives, warnings, strict_counts=strict_counts)
