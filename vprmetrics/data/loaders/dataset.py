"""The loaded dataset of a protocol: ordered ids, coordinates, and its ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vprmetrics.data.loaders._common import SideData, check_count
from vprmetrics.data.protocol import Protocol
from vprmetrics.errors import ProtocolError
from vprmetrics.geo.ground_truth import positives_within_radius
from vprmetrics.geo.positives import Positives

__all__ = ["Dataset", "assemble"]


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
        q_coords, d_coords, radius = self.query_coords, self.database_coords, p.radius_m
        q_head, d_head = self.query_headings, self.database_headings
        if p.max_heading_deg is not None and (q_head is None or d_head is None):
            raise ProtocolError(
                f"protocol {p.name!r} limits headings to {p.max_heading_deg} degrees but "
                "the dataset has no headings; use a dataset with headings"
            )
        use_headings = p.max_heading_deg is not None
        assert radius is not None  # the schema requires radius_m for radius ground truth

        def search(qi: np.ndarray | slice, di: np.ndarray | slice) -> Positives:
            return positives_within_radius(
                q_coords[qi],
                d_coords[di],
                radius,
                coords=p.coordinates,
                query_headings=q_head[qi] if use_headings and q_head is not None else None,
                database_headings=d_head[di] if use_headings and d_head is not None else None,
                max_heading_deg=p.max_heading_deg,
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


def assemble(
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
