"""Dataset loaders: turn a dataset folder and a protocol into ordered ids, coordinates
and ground truth.

:func:`load_dataset` dispatches on ``protocol.layout`` (``vg``, ``msls``, ``cvusa``,
``csv``; more with :func:`register_loader`) and checks the counts against the protocol.
:func:`load_ground_truth_npz` reads the same facts from a ``GT.npz`` for users who have
the coordinates but not the images.

>>> import numpy as np, tempfile, pathlib
>>> from vprmetrics.data.protocol import load_protocol
>>> p = load_protocol("pitts30k-test")
>>> ds = Dataset(p, None, np.array(["d0", "d1"]), np.array(["q0"]),
...              np.array([[0.0, 0.0], [0.0, 30.0]]), np.array([[0.0, 25.0]]))
>>> ds.ground_truth().ids.tolist()
[0, 1]
>>> path = pathlib.Path(tempfile.mkdtemp()) / "gt.npz"
>>> save_ground_truth_npz(path, ds)
>>> again = load_ground_truth_npz(path, p, strict_counts=False)  # 2 of 10,000 images
>>> ground_truth_hash(again.ground_truth()) == ground_truth_hash(ds.ground_truth())
True
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vprmetrics.checks import as_coordinates, as_headings
from vprmetrics.data.loaders._common import SideData, check_count
from vprmetrics.data.protocol import Protocol
from vprmetrics.errors import InputError, InputTypeError, ProtocolError
from vprmetrics.files import save_npz_atomic
from vprmetrics.geo.positives import Positives

__all__ = [
    "Dataset",
    "SideData",
    "ground_truth_hash",
    "load_dataset",
    "load_ground_truth_npz",
    "open_dataset",
    "register_loader",
    "save_ground_truth_npz",
]

Loader = Callable[[Protocol, Path], tuple[SideData, SideData]]
_LOADERS: dict[str, Loader] = {}


@dataclass(frozen=True, eq=False)
class Dataset:
    """The ordered database and query images of a protocol, with what ground truth needs.

    ``database_ids`` / ``query_ids`` are paths relative to the dataset root (unicode
    arrays); coordinates are float64 ``(n, 2)`` (``None`` for one-to-one protocols);
    headings ``(n,)`` or ``None``. ``database_groups`` numbers the panorama of each
    database item for protocols that rank panoramas (``tokyo247-netvlad``); ``*_regions``
    keep positives inside a region (MSLS cities). ``warnings`` are one-line notes from
    loading (unknown or unverified counts).
    """

    protocol: Protocol
    root: Path | None
    database_ids: np.ndarray
    query_ids: np.ndarray
    database_coords: np.ndarray | None = None
    query_coords: np.ndarray | None = None
    database_headings: np.ndarray | None = None
    query_headings: np.ndarray | None = None
    database_groups: np.ndarray | None = None
    database_regions: np.ndarray | None = None
    query_regions: np.ndarray | None = None
    positives: Positives | None = None
    warnings: tuple[str, ...] = ()
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def n_database(self) -> int:
        return int(self.database_ids.shape[0])

    @property
    def n_queries(self) -> int:
        return int(self.query_ids.shape[0])

    def ground_truth(self) -> Positives:
        """The positives of every query under the protocol (computed once, then cached):
        one-to-one pairs, or the database items within ``radius_m`` (closed ball, float64
        kd-tree), with the heading limit when the protocol sets one."""
        if "gt" not in self._cache:
            self._cache["gt"] = self._compute_ground_truth()
        return self._cache["gt"]

    def grouped_ground_truth(self) -> Positives:
        """Ground truth over database groups (a group is positive when any member is);
        only for protocols with ``database_grouping``."""
        if self.database_groups is None:
            raise ProtocolError(
                f"protocol {self.protocol.name!r} does not group the database; use ground_truth()"
            )
        gt = self.ground_truth()
        n_groups = int(self.database_groups.max()) + 1 if self.n_database else 0
        rows = [self.database_groups[gt.of(q)] for q in range(gt.n_queries)]
        return Positives.from_lists(rows, n_groups)

    def _compute_ground_truth(self) -> Positives:
        p = self.protocol
        if self.positives is not None:
            return self.positives
        if p.one_to_one:
            return Positives.one_to_one(self.n_queries, self.n_database)
        if self.query_coords is None or self.database_coords is None:
            raise ProtocolError(
                f"protocol {p.name!r} needs coordinates for its radius ground truth; "
                "give database_coords and query_coords (or precomputed positives)"
            )
        headings = {}
        if p.max_heading_deg is not None:
            if self.query_headings is None or self.database_headings is None:
                raise ProtocolError(
                    f"protocol {p.name!r} limits headings to {p.max_heading_deg} degrees but "
                    "the dataset has no headings; use a dataset with headings"
                )
            headings = dict(
                query_headings=self.query_headings,
                database_headings=self.database_headings,
                max_heading_deg=p.max_heading_deg,
            )
        from vprmetrics.geo.ground_truth import positives_within_radius

        def search(qi: np.ndarray | slice, di: np.ndarray | slice) -> Positives:
            kw = {
                k: (v[qi] if k == "query_headings" else v[di] if k == "database_headings" else v)
                for k, v in headings.items()
            }
            return positives_within_radius(
                self.query_coords[qi],
                self.database_coords[di],
                p.radius_m,
                coords=p.coordinates,
                **kw,
            )

        if self.query_regions is None or self.database_regions is None:
            return search(slice(None), slice(None))
        q_parts, d_parts = [], []
        for region in np.unique(self.query_regions):
            qi = np.flatnonzero(self.query_regions == region)
            di = np.flatnonzero(self.database_regions == region)
            if di.size == 0:
                continue
            gt = search(qi, di)
            q_parts.append(qi[gt.query_of_entry])
            d_parts.append(di[gt.ids])
        qs = np.concatenate(q_parts) if q_parts else np.zeros(0, np.int64)
        ds = np.concatenate(d_parts) if d_parts else np.zeros(0, np.int64)
        order = np.lexsort((ds, qs))
        lims = np.zeros(self.n_queries + 1, dtype=np.int64)
        lims[1:] = np.cumsum(np.bincount(qs, minlength=self.n_queries))
        return Positives(lims, ds[order], self.n_database)


def register_loader(layout: str, loader: Loader) -> None:
    """Register ``loader(protocol, root) -> (database, queries)`` for a layout (used by
    the synthetic world)."""
    _LOADERS[layout] = loader


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

    kw = dict(coordinates=protocol.coordinates, protocol_name=protocol.name)
    return (
        load_csv_side(root, protocol.database.path, **kw),
        load_csv_side(root, protocol.queries.path, **kw),
    )


for _layout, _fn in (("vg", _vg), ("msls", _msls), ("cvusa", _cvusa), ("csv", _csv)):
    register_loader(_layout, _fn)


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
    loader = _LOADERS.get(protocol.layout)
    if loader is None:
        raise ProtocolError(
            f"no loader is registered for layout {protocol.layout!r} (protocol "
            f"{protocol.name!r}); give --ground-truth GT.npz instead"
        )
    db, q = loader(protocol, root)
    return _assemble(protocol, root, db, q, strict_counts=strict_counts)


def _assemble(
    protocol: Protocol,
    root: Path | None,
    db: SideData,
    q: SideData,
    positives: Positives | None = None,
    extra_warnings: tuple[str, ...] = (),
    *,
    strict_counts: bool = True,
) -> Dataset:
    warnings = list(extra_warnings)
    for side, spec, data in (("database", protocol.database, db), ("queries", protocol.queries, q)):
        verified = spec.count_verified and strict_counts
        warnings += check_count(protocol.name, side, spec.count, verified, len(data))
    if protocol.one_to_one and len(db) < len(q):
        raise ProtocolError(
            f"protocol {protocol.name!r} pairs query i with database item i but there are "
            f"{len(q)} queries and only {len(db)} database items; check the split file"
        )
    return Dataset(
        protocol=protocol,
        root=root,
        database_ids=db.ids,
        query_ids=q.ids,
        database_coords=db.coords,
        query_coords=q.coords,
        database_headings=db.headings,
        query_headings=q.headings,
        database_groups=db.groups,
        database_regions=db.regions,
        query_regions=q.regions,
        positives=positives,
        warnings=tuple(warnings),
    )


# ------------------------------------------------------------------ ground truth files


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


def _ids(npz, key: str, path: Path) -> np.ndarray:
    if key not in npz:
        raise InputError(
            f"ground-truth file {path} has no {key!r} array; add it (see docs/submissions.md)"
        )
    arr = _get(npz, key, path)
    if arr.dtype.kind != "U" or arr.ndim != 1:
        raise InputTypeError(
            f"ground-truth file {path}: {key} must be a 1-D unicode string array, got dtype "
            f"{arr.dtype} and shape {arr.shape}; save it with np.asarray(ids, dtype=str)"
        )
    return arr


def _get(npz, key: str, path: Path) -> np.ndarray:
    try:
        return npz[key]
    except ValueError as err:
        raise InputTypeError(
            f"ground-truth file {path}: {key} holds Python objects, which are never "
            "unpickled; save plain arrays (strings as dtype=str)"
        ) from err


def load_ground_truth_npz(
    path: str | os.PathLike[str], protocol: Protocol, *, strict_counts: bool = True
) -> Dataset:
    """Read a ``GT.npz`` (see :func:`save_ground_truth_npz`) without pickle and check it
    against ``protocol`` (counts as in :func:`load_dataset`, protocol name when stored)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"ground-truth file {str(path)!r} does not exist; check the path")
    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise InputError(f"ground-truth file {path} is not a valid .npz ({err})") from err
    with npz:
        unknown = sorted(set(npz.files) - _GT_KEYS)
        warnings = tuple(f"ground-truth file {path}: array {k!r} is not used" for k in unknown)
        if "protocol" in npz.files:
            stored = str(_get(npz, "protocol", path))
            if stored != protocol.name:
                raise ProtocolError(
                    f"ground-truth file {path} was made for protocol {stored!r}, not "
                    f"{protocol.name!r}; pass --protocol {stored} or rebuild the file"
                )
        db_ids, q_ids = _ids(npz, "database_ids", path), _ids(npz, "query_ids", path)
        nd, nq = db_ids.shape[0], q_ids.shape[0]
        got = {k: _get(npz, k, path) for k in npz.files if k not in ("protocol",)}
    positives = None
    if "positives_lims" in got or "positives_ids" in got:
        if not ("positives_lims" in got and "positives_ids" in got):
            raise InputError(
                f"ground-truth file {path} needs both positives_lims and positives_ids, or neither"
            )
        positives = Positives(got["positives_lims"], got["positives_ids"], nd)
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
    ints = {}
    for key, n in (("database_groups", nd), ("database_regions", nd), ("query_regions", nq)):
        if key in got:
            arr = np.asarray(got[key])
            if arr.dtype.kind not in "iu" or arr.shape != (n,):
                raise InputTypeError(f"ground-truth file {path}: {key} must be {n} integers")
            ints[key] = arr.astype(np.int64)
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
    return _assemble(protocol, None, db, q, positives, warnings, strict_counts=strict_counts)


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
