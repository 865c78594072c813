"""The VG-benchmark folder layout (Pitts30k, Tokyo 24/7, SF-XS, St Lucia, Nordland, ...).

``<root>/images/<split>/{database,queries}/**/*.jpg`` whose file names carry 16
``@``-separated fields (see ``docs/protocols.md``)::

    @0584744.97@4476709.92@17@T@040.44123@-079.99585@000829@00@@@@@@pitch1_yaw1@.jpg

Files are kept in sorted order of their paths (what the reference code's sorted glob
gives), or in the order of ``<folder>_images_paths.txt`` (paths relative to the folder,
one a line) when that file exists. Coordinates stay float64 from the text to the geometry.

>>> n = parse_vg_name("@0584744.97@4476709.92@17@T@040.44123@-079.99585@000829@00@@@@@@p1@.jpg")
>>> n.easting, n.northing, n.utm_zone, n.latitude, n.panorama_id, n.heading, n.note
(584744.97, 4476709.92, 17, 40.44123, '000829', None, 'p1')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from vprmetrics.data.loaders._common import (
    IMAGE_EXTENSIONS,
    SideData,
    as_id_array,
    inside_root,
    parse_number,
    read_text,
    relative_id,
    require_dir,
    safe_relative,
)
from vprmetrics.errors import InputError

__all__ = ["VGName", "list_vg_images", "load_vg_side", "parse_vg_name"]

VG_FORMAT = (
    "@easting@northing@zone@letter@lat@lon@pano@tile@heading@pitch@roll@height@time@note@.jpg"
)


@dataclass(frozen=True)
class VGName:
    """The 16 fields of a VG-benchmark image name (empty optional fields are ``None``/``''``)."""

    path: str
    easting: float
    northing: float
    utm_zone: int | None
    utm_letter: str | None
    latitude: float | None
    longitude: float | None
    panorama_id: str
    tile: str
    heading: float | None
    pitch: float | None
    roll: str
    height: str
    timestamp: str
    note: str
    extension: str


def _bad(path: str, problem: str) -> InputError:
    return InputError(
        f"image {path!r} does not follow the VG name format ({problem}); expected "
        f"'{VG_FORMAT}': format the dataset with the VG-benchmark scripts"
    )


def _optional_number(text: str, path: str, what: str, limit: float | None = None) -> float | None:
    if text == "":
        return None
    try:
        value = parse_number(text, what)
    except InputError:
        raise _bad(path, f"{what} {text!r} is not a number") from None
    if limit is not None and abs(value) > limit:
        raise _bad(path, f"{what} {text!r} is out of range")
    return value


def parse_vg_name(path: str) -> VGName:
    """Parse the 16 ``@``-separated fields of a VG image name (the folder part is ignored).

    Easting and northing are required; every other field may be empty. A name with the
    wrong number of fields, a non-numeric coordinate or a field 0 that is not empty raises
    :class:`InputError` naming the file.

    >>> parse_vg_name("@0@0238.10@@@@@000001@@@@@@@@.jpg").northing  # Nordland mock name
    238.1
    """
    name = PurePosixPath(path.replace("\\", "/")).name
    fields = name.split("@")
    if len(fields) != 16:
        raise _bad(path, f"{len(fields)} '@'-separated fields instead of 16")
    if fields[0] != "":
        raise _bad(path, "the name must start with '@'")
    if not fields[15].startswith("."):
        raise _bad(path, f"the last field {fields[15]!r} must be the extension, e.g. '.jpg'")
    coords = []
    for idx, what in ((1, "easting"), (2, "northing")):
        if fields[idx] == "":
            raise _bad(path, f"the {what} field is empty")
        coords.append(_optional_number(fields[idx], path, what))
    zone_text, letter = fields[3], fields[4]
    if zone_text and not zone_text.isdigit():
        raise _bad(path, f"UTM zone {zone_text!r} is not a number")
    if letter and not (len(letter) == 1 and letter.isalpha()):
        raise _bad(path, f"UTM zone letter {letter!r} is not one letter")
    return VGName(
        path=path,
        easting=coords[0],  # type: ignore[arg-type]
        northing=coords[1],  # type: ignore[arg-type]
        utm_zone=int(zone_text) if zone_text else None,
        utm_letter=letter or None,
        latitude=_optional_number(fields[5], path, "latitude", 90.0),
        longitude=_optional_number(fields[6], path, "longitude", 180.0),
        panorama_id=fields[7],
        tile=fields[8],
        heading=_optional_number(fields[9], path, "heading"),
        pitch=_optional_number(fields[10], path, "pitch"),
        roll=fields[11],
        height=fields[12],
        timestamp=fields[13],
        note=fields[14],
        extension=fields[15],
    )


def list_vg_images(folder: Path, root: Path, *, use_paths_file: bool = True) -> list[str]:
    """Image ids (relative to ``root``) in ``folder``: from ``<folder>_images_paths.txt``
    when present (its order), else every .jpg/.jpeg/.png below it in sorted order."""
    prefix = relative_id(folder, root)
    paths_file = folder.parent / f"{folder.name}_images_paths.txt"
    if use_paths_file and (paths_file.exists() or paths_file.is_symlink()):
        paths_file = inside_root(root, relative_id(paths_file, root), "images paths file")
        lines = read_text(paths_file, "images paths file").splitlines()
        rels = [safe_relative(s, str(paths_file)) for s in lines if s.strip()]
        if not rels:
            raise InputError(f"{paths_file} lists no images; delete it or list one path a line")
        return [f"{prefix}/{r}" if prefix != "." else r for r in rels]
    found = [
        relative_id(p, root)
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
    ]
    if not found:
        raise InputError(f"no images (.jpg, .jpeg, .png) found in {folder}; check --dataset-root")
    return sorted(found)


def load_vg_side(
    root: Path,
    rel: str,
    *,
    protocol_name: str = "",
    coordinates: str = "utm",
    stride: int = 1,
    grouping: str | None = None,
    use_paths_file: bool = True,
) -> SideData:
    """Load one side of a VG dataset: ids, coordinates (UTM or lat/lon), headings when every
    name has one, and panorama groups when ``grouping == "panorama"``."""
    folder = inside_root(root, rel, "protocol path")
    require_dir(folder, protocol_name, "image")
    ids = list_vg_images(folder, root, use_paths_file=use_paths_file)[::stride]
    names = [parse_vg_name(i) for i in ids]
    if coordinates == "latlon":
        missing = next((n.path for n in names if n.latitude is None or n.longitude is None), None)
        if missing is not None:
            raise _bad(missing, "latitude/longitude are empty but the protocol uses latlon")
        coords = np.array([(n.latitude, n.longitude) for n in names], dtype=np.float64)
    else:
        coords = np.array([(n.easting, n.northing) for n in names], dtype=np.float64)
    headings = None
    if all(n.heading is not None for n in names):
        headings = np.array([n.heading for n in names], dtype=np.float64)
    groups = None
    if grouping == "panorama":
        empty = next((n.path for n in names if not n.panorama_id), None)
        if empty is not None:
            raise _bad(empty, "the panorama id (field 7) is empty but the protocol groups by it")
        _, first, inverse = np.unique(
            [n.panorama_id for n in names], return_index=True, return_inverse=True
        )
        order = np.argsort(np.argsort(first, kind="stable"), kind="stable")
        groups = order[inverse].astype(np.int64)  # numbered in order of first appearance
    return SideData(as_id_array(ids), coords.reshape(-1, 2), headings, groups)
