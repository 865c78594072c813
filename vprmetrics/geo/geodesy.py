"""Distances on the ground: UTM (planar) and WGS84 latitude/longitude (spherical).

Two coordinate kinds are understood everywhere in vprmetrics (``coords=``):

``"utm"``
    ``(easting, northing)`` in metres of one UTM zone. The distance is Euclidean,
    ``hypot(e1 - e2, n1 - n2)``, computed in float64 on the coordinate differences (never
    with the ``|a|^2 + |b|^2 - 2ab`` expansion, whose cancellation at UTM magnitudes,
    ~5e5 and ~4.5e6 m, moves a distance by up to ~1e-4 m and so misplaces the boundary).
``"latlon"``
    ``(latitude, longitude)`` in degrees (WGS84). The distance is the great-circle
    distance on a sphere of radius :data:`EARTH_RADIUS_M` (haversine formula). Compared
    with the geodesic on the WGS84 ellipsoid it errs by up to about 0.5%: the extremes are
    north-south distances near the equator (+0.56%, where the meridian's radius of
    curvature is 6,335 km) and near the poles (-0.45%); east-west distances err less. For a
    25 m radius that is at most 0.14 m. Use UTM coordinates when that matters.

>>> round(float(haversine_m([0.0, 0.0], [0.0, 1.0])), 1)  # one degree on the equator
111195.1
>>> float(geo_distance_m([[500000.0, 4500000.0]], [[500015.0, 4500020.0]], "utm")[0])
25.0
>>> float(heading_difference_deg(359.0, 1.0))
2.0
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from vprmetrics.checks import as_coordinates
from vprmetrics.errors import InputError

__all__ = [
    "COORDINATE_KINDS",
    "EARTH_RADIUS_M",
    "CoordinateKind",
    "as_geo_coordinates",
    "check_coordinate_kind",
    "geo_distance_m",
    "haversine_m",
    "heading_difference_deg",
    "latlon_to_unit_xyz",
]

EARTH_RADIUS_M: float = 6_371_008.8
"""IUGG mean Earth radius R1 = (2a + b) / 3 of the WGS84 ellipsoid, in metres."""

CoordinateKind = Literal["utm", "latlon"]
COORDINATE_KINDS: tuple[str, ...] = ("utm", "latlon")


def check_coordinate_kind(coords: str) -> str:
    """Return ``coords`` if it is a known coordinate kind, else raise :class:`InputError`."""
    if coords not in COORDINATE_KINDS:
        raise InputError(
            f"coords={coords!r} is unknown; use 'utm' (easting, northing in metres) "
            "or 'latlon' (degrees)"
        )
    return coords


def _check_latitudes(latlon: np.ndarray, name: str) -> None:
    lat = latlon[..., 0]
    bad = np.abs(lat) > 90.0  # NaN compares False: NaN is left to the caller's checks
    if bad.any():
        first = int(np.flatnonzero(bad.reshape(-1))[0])
        value = float(lat.reshape(-1)[first])
        raise InputError(
            f"{name} has latitude {value} (row {first}) outside [-90, 90]; "
            "give (latitude, longitude) in degrees, latitude first"
        )


def as_geo_coordinates(x: ArrayLike, name: str, coords: str, n: int | None = None) -> np.ndarray:
    """A finite float64 ``(n, 2)`` array of coordinates of the given kind.

    For ``"latlon"`` the latitude (column 0) must lie in [-90, 90].

    >>> as_geo_coordinates([[45.0, 7.0]], "queries", "latlon").dtype
    dtype('float64')
    """
    check_coordinate_kind(coords)
    array = x if isinstance(x, np.ndarray) else np.asarray(x)
    if array.shape == (0, 2) and (n is None or n == 0) and array.dtype.kind in "fiu":
        return np.zeros((0, 2))  # no rows: nothing to check (check_finite cannot reshape it)
    array = as_coordinates(array, name, n)
    if coords == "latlon":
        _check_latitudes(array, name)
    return array


def _pair_array(x: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(x, dtype=np.float64)
    if array.ndim == 0 or array.shape[-1] != 2:
        raise InputError(f"{name} has shape {array.shape}, expected (..., 2) coordinates")
    return array


def _broadcast_pairs(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a_arr, b_arr = _pair_array(a, "a"), _pair_array(b, "b")
    try:
        np.broadcast_shapes(a_arr.shape, b_arr.shape)
    except ValueError:
        raise InputError(
            f"a has shape {a_arr.shape} and b has shape {b_arr.shape}, which do not broadcast; "
            "give one row of b per row of a"
        ) from None
    return a_arr, b_arr


def haversine_m(a_latlon: ArrayLike, b_latlon: ArrayLike) -> np.ndarray:
    """Great-circle distance in metres between rows of ``(lat, lon)`` in degrees.

    With latitudes phi, longitudes lambda (radians) and R = :data:`EARTH_RADIUS_M`::

        h = sin^2((phi2 - phi1) / 2) + cos(phi1) cos(phi2) sin^2((lambda2 - lambda1) / 2)
        d = 2 R asin(sqrt(h))

    The haversine form is well conditioned for the short distances of place recognition
    (no ``acos`` of a number near 1). ``h`` is clipped to [0, 1] against rounding. The
    spherical model errs by up to ~0.5% against the WGS84 ellipsoid (see module notes).
    Shapes ``(..., 2)`` broadcast; NaN propagates; latitudes outside [-90, 90] raise.

    >>> d = haversine_m([[48.8566, 2.3522]], [[51.5072, -0.1276]])  # Paris - London
    >>> round(float(d[0]) / 1000)
    344
    """
    a, b = _broadcast_pairs(a_latlon, b_latlon)
    _check_latitudes(a, "a_latlon")
    _check_latitudes(b, "b_latlon")
    phi1, lam1 = np.radians(a[..., 0]), np.radians(a[..., 1])
    phi2, lam2 = np.radians(b[..., 0]), np.radians(b[..., 1])
    h = (
        np.sin((phi2 - phi1) / 2) ** 2
        + np.cos(phi1) * np.cos(phi2) * np.sin((lam2 - lam1) / 2) ** 2
    )
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def latlon_to_unit_xyz(latlon: ArrayLike) -> np.ndarray:
    """Points ``(lat, lon)`` in degrees as unit vectors ``(x, y, z)`` (shape ``(..., 3)``).

    ``x = cos(phi) cos(lambda)``, ``y = cos(phi) sin(lambda)``, ``z = sin(phi)``. Two points
    a great-circle distance d apart are a chord ``2 sin(d / 2R)`` apart, which is monotone
    in d, so a Euclidean kd-tree on these vectors answers great-circle radius queries.

    >>> latlon_to_unit_xyz([[0.0, 90.0]]).round(12).tolist()
    [[0.0, 1.0, 0.0]]
    """
    array = _pair_array(latlon, "latlon")
    _check_latitudes(array, "latlon")
    phi, lam = np.radians(array[..., 0]), np.radians(array[..., 1])
    cos_phi = np.cos(phi)
    return np.stack([cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)], axis=-1)


def geo_distance_m(a: ArrayLike, b: ArrayLike, coords: str = "utm") -> np.ndarray:
    """Row-wise distance in metres between coordinates of the kind ``coords``.

    ``"utm"``: ``hypot(e_a - e_b, n_a - n_b)`` in float64. ``"latlon"``: :func:`haversine_m`.
    Shapes ``(..., 2)`` broadcast.

    >>> geo_distance_m([[0, 0], [3, 4]], [[7, 24], [3, 4]]).tolist()
    [25.0, 0.0]
    """
    check_coordinate_kind(coords)
    if coords == "latlon":
        return haversine_m(a, b)
    a_arr, b_arr = _broadcast_pairs(a, b)
    return np.hypot(a_arr[..., 0] - b_arr[..., 0], a_arr[..., 1] - b_arr[..., 1])


def heading_difference_deg(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Smallest angle between headings in degrees, in [0, 180], wrapping at 360.

    ``delta = (a - b) mod 360``, result ``min(delta, 360 - delta)``. Headings may be any
    finite number of degrees (negative, or above 360). Shapes broadcast.

    >>> heading_difference_deg([359, 10, -90], [1, 190, 270]).tolist()
    [2.0, 180.0, 0.0]
    """
    delta = np.mod(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64), 360.0)
    return np.minimum(delta, 360.0 - delta)
