"""The Mapillary Street-Level Sequences (MSLS) layout.

``<root>/<subset>/<city>/{database,query}/`` holds ``postprocessed.csv`` (``key``,
``easting``, ``northing``, ...), ``raw.csv`` (``key``, ``lon``, ``lat``, ``ca`` = compass
angle, ``captured_at``, ``pano``), ``subtask_index.csv`` (one boolean column per subtask)
and ``images/<key>.jpg``. The rows of the three CSV files are aligned by position (the
official code relies on that; this loader checks the keys agree).

Rows are kept, in file order and cities in the protocol's order, when the protocol's
subtask column is true and (with ``exclude_panoramas``) ``pano`` is false. Coordinates are
UTM easting/northing in float64; each city is its own region, so positives never cross
cities (the official code searches positives per city).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vprmetrics.data.loaders._common import (
    SideData,
    as_id_array,
    inside_root,
    parse_number,
    read_csv,
    require_dir,
    require_file,
    safe_name,
)
from vprmetrics.errors import InputError

__all__ = ["load_msls_side", "parse_bool"]


def parse_bool(text: str, where: str) -> bool:
    """``True``/``False`` as pandas writes them (also 1/0).

    >>> parse_bool("False", "raw.csv"), parse_bool("1", "raw.csv")
    (False, True)
    """
    t = text.strip().lower()
    if t in ("true", "1"):
        return True
    if t in ("false", "0"):
        return False
    raise InputError(f"{where}: {text!r} is not a boolean (True/False); fix that entry")


def load_msls_side(
    root: Path,
    subset: str,
    cities: Sequence[str],
    side: str,
    *,
    protocol_name: str = "",
    subtask: str | None = "all",
    exclude_panoramas: bool = True,
) -> SideData:
    """Load the ``side`` (``"database"`` or ``"query"``) of the given cities."""
    ids: list[str] = []
    coords: list[tuple[float, float]] = []
    headings: list[float] = []
    have_headings = True
    regions: list[int] = []
    for region, city in enumerate(cities):
        folder = inside_root(root, f"{subset}/{safe_name(city, 'loader.cities')}/{side}", "MSLS")
        require_dir(folder, protocol_name, f"MSLS {city} {side}")
        post_path = inside_root(root, f"{subset}/{city}/{side}/postprocessed.csv", "MSLS")
        require_file(post_path, protocol_name, "MSLS metadata file")
        post = read_csv(post_path, ["key", "easting", "northing"])
        keep = np.ones(len(post), dtype=bool)
        raw = None
        raw_path = inside_root(root, f"{subset}/{city}/{side}/raw.csv", "MSLS")
        if exclude_panoramas or raw_path.is_file():
            require_file(raw_path, protocol_name, "MSLS metadata file")
            raw = read_csv(raw_path, ["key", "pano"] if exclude_panoramas else ["key"])
            _check_aligned(post, raw, post_path, raw_path)
            if exclude_panoramas:
                keep &= [not parse_bool(r["pano"], f"{raw_path} key {r['key']}") for r in raw]
        if subtask is not None:
            sub_path = inside_root(root, f"{subset}/{city}/{side}/subtask_index.csv", "MSLS")
            require_file(sub_path, protocol_name, "MSLS subtask file")
            sub = read_csv(sub_path, [subtask])
            if len(sub) != len(post):
                raise InputError(
                    f"{sub_path} has {len(sub)} rows but {post_path} has {len(post)}; "
                    "use the metadata files of the same MSLS release"
                )
            keep &= [parse_bool(r[subtask], str(sub_path)) for r in sub]
        for i in np.flatnonzero(keep):
            row = post[i]
            where = f"{post_path} key {row['key']!r}"
            key = safe_name(row["key"], f"{post_path} line {i + 2} key")
            ids.append(f"{subset}/{city}/{side}/images/{key}.jpg")
            coords.append(
                (
                    parse_number(row["easting"], f"{where} easting"),
                    parse_number(row["northing"], f"{where} northing"),
                )
            )
            regions.append(region)
            ca = raw[i].get("ca", "") if raw is not None else ""
            if ca:
                headings.append(parse_number(ca, f"{raw_path} key {row['key']} ca"))
            else:
                have_headings = False
    if not ids:
        raise InputError(
            f"no MSLS {side} images are left after the filters for cities {list(cities)}; "
            "check the metadata files"
        )
    return SideData(
        as_id_array(ids),
        np.asarray(coords, dtype=np.float64).reshape(-1, 2),
        np.asarray(headings, dtype=np.float64) if have_headings else None,
        None,
        np.asarray(regions, dtype=np.int64),
    )


def _check_aligned(post: list[dict], raw: list[dict], post_path: Path, raw_path: Path) -> None:
    if len(post) != len(raw):
        raise InputError(
            f"{raw_path} has {len(raw)} rows but {post_path} has {len(post)}; "
            "use the metadata files of the same MSLS release"
        )
    for i, (a, b) in enumerate(zip(post, raw, strict=True)):
        if a["key"] != b["key"]:
            raise InputError(
                f"{raw_path} row {i + 1} has key {b['key']!r} but {post_path} has "
                f"{a['key']!r}; the files must list the same images in the same order"
            )
