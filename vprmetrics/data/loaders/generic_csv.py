"""A generic CSV layout: ``path, easting, northing[, heading]`` with a header.

For ``coordinates = "latlon"`` protocols the columns are ``path, latitude, longitude``
(``lat``/``lon`` also accepted). ``path`` is relative to the dataset root and the rows'
order is the protocol order; every listed image must exist.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "a.jpg").write_bytes(b"x")
>>> _ = (d / "db.csv").write_text("path,easting,northing\\na.jpg,500000.5,4500000.25\\n")
>>> side = load_csv_side(d, "db.csv")
>>> side.ids.tolist(), side.coords.tolist()
(['a.jpg'], [[500000.5, 4500000.25]])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vprmetrics.data.loaders._common import (
    SideData,
    as_id_array,
    check_exist,
    inside_root,
    parse_number,
    read_csv,
    require_file,
    safe_relative,
)

__all__ = ["load_csv_side"]


def load_csv_side(
    root: Path,
    rel: str,
    *,
    coordinates: str = "utm",
    protocol_name: str = "",
    check_images: bool = True,
) -> SideData:
    """Load one side from the CSV file ``root / rel``."""
    path = inside_root(root, rel, "protocol path")
    require_file(path, protocol_name, "CSV file")
    if coordinates == "latlon":
        probe = read_csv(path, ["path"])
        cols = ("lat", "lon") if "lat" in probe[0] else ("latitude", "longitude")
    else:
        cols = ("easting", "northing")
    rows = read_csv(path, ["path", *cols])
    ids, coords, headings = [], [], []
    for line, row in enumerate(rows, start=2):
        where = f"CSV file {path} line {line}"
        ids.append(safe_relative(row["path"], where))
        coords.append(tuple(parse_number(row[c], f"{where} {c}") for c in cols))
        if "heading" in row:
            headings.append(parse_number(row["heading"], f"{where} heading"))
    id_array = as_id_array(ids)
    if check_images:
        check_exist(root, id_array, rel)
    return SideData(
        id_array,
        np.asarray(coords, dtype=np.float64).reshape(-1, 2),
        np.asarray(headings, dtype=np.float64) if headings else None,
    )
