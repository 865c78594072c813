"""Where the town lies on Earth, and the VG-benchmark file names that say so.

The town's local frame (metres east, north of its south-west corner) is placed at a fixed
UTM position in zone 17T (Pittsburgh-like latitude). Latitude and longitude come from the
standard inverse transverse Mercator series on WGS84 (Snyder 1987, eq. 8-18 to 8-25),
accurate to well below 1e-6 degrees at this distance from the central meridian, far
below the 5 decimals the file name keeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "ORIGIN_EASTING",
    "ORIGIN_NORTHING",
    "ZONE",
    "ZONE_LETTER",
    "VGName",
    "format_vg_name",
    "parse_vg_name",
    "utm_to_latlon",
]

ORIGIN_EASTING = 584000.0
ORIGIN_NORTHING = 4477000.0
ZONE = 17
ZONE_LETTER = "T"


def utm_to_latlon(easting: float, northing: float, zone: int = ZONE) -> tuple[float, float]:
    """WGS84 latitude and longitude (degrees) of a northern-hemisphere UTM position.

    >>> lat, lon = utm_to_latlon(500000.0, 4427757.2187, 17)  # 40 N on the central meridian
    >>> f"{lat:09.5f} {lon:010.5f}"
    '040.00000 -081.00000'
    """
    k0, a, f = 0.9996, 6378137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    ep2 = e2 / (1 - e2)
    x = easting - 500000.0
    m = northing / k0
    mu = m / (a * (1 - e2 / 4 - 3 * e2**2 / 64 - 5 * e2**3 / 256))
    e1 = (1 - math.sqrt(1 - e2)) / (1 + math.sqrt(1 - e2))
    phi1 = (
        mu
        + (3 * e1 / 2 - 27 * e1**3 / 32) * math.sin(2 * mu)
        + (21 * e1**2 / 16 - 55 * e1**4 / 32) * math.sin(4 * mu)
        + (151 * e1**3 / 96) * math.sin(6 * mu)
        + (1097 * e1**4 / 512) * math.sin(8 * mu)
    )
    s, c = math.sin(phi1), math.cos(phi1)
    t1 = (s / c) ** 2
    c1 = ep2 * c * c
    n1 = a / math.sqrt(1 - e2 * s * s)
    r1 = a * (1 - e2) / (1 - e2 * s * s) ** 1.5
    d = x / (n1 * k0)
    lat = phi1 - (n1 * (s / c) / r1) * (
        d**2 / 2
        - (5 + 3 * t1 + 10 * c1 - 4 * c1**2 - 9 * ep2) * d**4 / 24
        + (61 + 90 * t1 + 298 * c1 + 45 * t1**2 - 252 * ep2 - 3 * c1**2) * d**6 / 720
    )
    lon0 = math.radians((zone - 1) * 6 - 180 + 3)
    lon = (
        lon0
        + (
            d
            - (1 + 2 * t1 + c1) * d**3 / 6
            + (5 - 2 * c1 + 28 * t1 - 3 * c1**2 + 8 * ep2 + 24 * t1**2) * d**5 / 120
        )
        / c
    )
    return math.degrees(lat), math.degrees(lon)


@dataclass(frozen=True)
class VGName:
    """The fields of a VG-benchmark file name that the town fills in."""

    easting: float
    northing: float
    zone: int
    letter: str
    lat: float
    lon: float
    pano_id: str
    tile: int
    heading: int
    pitch: int
    timestamp: str
    note: str


def format_vg_name(
    x: float,
    y: float,
    pano_id: str,
    heading: float,
    pitch: float,
    timestamp: str,
    note: str,
    tile: int = 0,
) -> str:
    """VG file name (16 ``@``-fields) of an image rendered at local ``(x, y)``.

    ``x`` and ``y`` must already be on the centimetre grid so that the name holds the
    exact render position. Heading and pitch are truncated to whole degrees.

    >>> format_vg_name(744.97, -290.08, "000829", 12.9, 5, "20240615_120000", "day")
    '@0584744.97@4476709.92@17@T@040.43672@-080.00082@000829@00@012@005@@@20240615_120000@day@.jpg'
    """
    e = ORIGIN_EASTING + x
    n = ORIGIN_NORTHING + y
    lat, lon = utm_to_latlon(e, n)
    hd = math.floor(heading % 360.0)
    return (
        f"@{e:010.2f}@{n:010.2f}@{ZONE:02d}@{ZONE_LETTER}@{lat:09.5f}@{lon:010.5f}"
        f"@{pano_id}@{tile:02d}@{hd:03d}@{int(pitch):03d}@@@{timestamp}@{note}@.jpg"
    )


def parse_vg_name(name: str) -> VGName:
    """Parse a VG file name (base name or path) back into its fields."""
    f = name.rsplit("/", 1)[-1].split("@")
    if len(f) != 16:
        raise ValueError(f"a VG file name has 16 '@'-separated fields; got {len(f)} in {name!r}")
    return VGName(
        float(f[1]),
        float(f[2]),
        int(f[3]),
        f[4],
        float(f[5]),
        float(f[6]),
        f[7],
        int(f[8]),
        int(f[9]),
        int(f[10]),
        f[13],
        f[14],
    )


def local_from_utm(easting: float, northing: float) -> tuple[float, float]:
    """Local town metres of a UTM position (inverse of the placement)."""
    return easting - ORIGIN_EASTING, northing - ORIGIN_NORTHING
