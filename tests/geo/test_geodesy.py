"""Tests of vprmetrics.geo.geodesy: haversine, unit vectors, UTM distance, heading difference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vprmetrics.errors import InputError
from vprmetrics.geo.geodesy import (
    EARTH_RADIUS_M,
    as_geo_coordinates,
    geo_distance_m,
    haversine_m,
    heading_difference_deg,
    latlon_to_unit_xyz,
)

latitudes = st.floats(-90, 90, allow_nan=False)
longitudes = st.floats(-180, 180, allow_nan=False)
latlon_points = st.tuples(latitudes, longitudes)


def vector_angle_distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Independent oracle: R * atan2(|u x v|, u . v) on unit vectors built with math."""

    def unit(p: tuple[float, float]) -> tuple[float, float, float]:
        phi, lam = math.radians(p[0]), math.radians(p[1])
        return (math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi))

    u, v = unit(a), unit(b)
    cross = (
        u[1] * v[2] - u[2] * v[1],
        u[2] * v[0] - u[0] * v[2],
        u[0] * v[1] - u[1] * v[0],
    )
    dot = sum(x * y for x, y in zip(u, v, strict=True))
    return EARTH_RADIUS_M * math.atan2(math.hypot(*cross), dot)


# --- hand-checked values ---------------------------------------------------------------


def test_earth_radius_is_iugg_mean_radius() -> None:
    a, f = 6_378_137.0, 1 / 298.257223563  # WGS84
    b = a * (1 - f)
    assert EARTH_RADIUS_M == 6_371_008.8
    assert abs((2 * a + b) / 3 - EARTH_RADIUS_M) < 0.05  # 6_371_008.771 rounded


def test_haversine_nashville_los_angeles_matches_published_great_circle() -> None:
    # BNA (36.12 N, 86.67 W) - LAX (33.94 N, 118.40 W): 2886.44 km on a 6371.0 km sphere
    # (the classic worked example of the great-circle distance).
    d = float(haversine_m([[36.12, -86.67]], [[33.94, -118.40]])[0])
    assert d / 1000 == pytest.approx(2886.44 * EARTH_RADIUS_M / 6_371_000.0, rel=1e-5)
    assert d / 1000 == pytest.approx(2886.44, rel=0.005)


@pytest.mark.parametrize(
    ("latitude", "published_km"),
    [(0.0, 110.574), (45.0, 111.132), (90.0, 111.694)],  # WGS84 length of 1 degree latitude
)
def test_haversine_error_against_the_ellipsoid_is_about_half_a_percent(
    latitude: float, published_km: float
) -> None:
    lo, hi = latitude - 0.5, latitude + 0.5
    if hi > 90:
        lo, hi = 89.0, 90.0
    d = float(haversine_m([lo, 0.0], [hi, 0.0])) / 1000
    assert abs(d / published_km - 1) < 0.0057  # the documented worst case is +0.56%


def test_haversine_special_points() -> None:
    assert float(haversine_m([10.0, 20.0], [10.0, 20.0])) == 0.0
    assert float(haversine_m([0.0, 0.0], [0.0, 180.0])) == pytest.approx(math.pi * EARTH_RADIUS_M)
    assert float(haversine_m([90.0, 0.0], [-90.0, 33.0])) == pytest.approx(math.pi * EARTH_RADIUS_M)
    assert float(haversine_m([0.0, 179.9999], [0.0, -179.9999])) == pytest.approx(
        2 * math.radians(0.0001) * EARTH_RADIUS_M, rel=1e-6
    )


def test_haversine_broadcasts_and_propagates_nan() -> None:
    d = haversine_m([[0.0, 0.0], [0.0, 1.0]], [0.0, 0.0])
    assert d.shape == (2,)
    assert d[0] == 0.0
    assert np.isnan(haversine_m([np.nan, 0.0], [0.0, 0.0]))


def test_utm_distance_is_exact_on_pythagorean_triples_at_utm_magnitudes() -> None:
    base = np.array([584_744.0, 4_476_709.0])
    offsets = np.array([[15, 20], [-20, 15], [7, -24], [-24, -7], [0, 25], [-25, 0]], float)
    d = geo_distance_m(np.broadcast_to(base, offsets.shape), base + offsets, "utm")
    assert d.tolist() == [25.0] * 6


def test_geo_distance_latlon_is_haversine() -> None:
    a, b = [[40.44123, -79.99585]], [[40.44150, -79.99600]]
    assert geo_distance_m(a, b, "latlon").tolist() == haversine_m(a, b).tolist()


def test_unit_xyz_chord_matches_great_circle() -> None:
    a, b = np.array([[45.0, 7.0]]), np.array([[45.001, 7.002]])
    chord = float(np.linalg.norm(latlon_to_unit_xyz(a) - latlon_to_unit_xyz(b)))
    d = float(haversine_m(a, b)[0])
    assert chord == pytest.approx(2 * math.sin(d / (2 * EARTH_RADIUS_M)), rel=1e-9)


def test_heading_difference_examples() -> None:
    assert float(heading_difference_deg(359, 1)) == 2.0
    assert float(heading_difference_deg(1, 359)) == 2.0
    assert float(heading_difference_deg(0, 180)) == 180.0
    assert float(heading_difference_deg(-10, 710)) == 0.0
    assert float(heading_difference_deg(90.5, 90)) == 0.5


# --- properties ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(latlon_points, latlon_points)
def test_haversine_matches_vector_oracle(a: tuple[float, float], b: tuple[float, float]) -> None:
    d = float(haversine_m(a, b))
    expected = vector_angle_distance_m(a, b)
    # near the antipode asin loses about sqrt(eps) relative: allow ~0.2 m there
    assert d == pytest.approx(expected, rel=1e-9, abs=0.2)
    assert float(haversine_m(b, a)) == d


@settings(max_examples=200, deadline=None)
@given(latlon_points, st.floats(-1e-3, 1e-3), st.floats(-1e-3, 1e-3))
def test_haversine_short_distances_are_accurate(
    a: tuple[float, float], dlat: float, dlon: float
) -> None:
    b = (min(90.0, max(-90.0, a[0] + dlat)), a[1] + dlon)
    assert float(haversine_m(a, b)) == pytest.approx(
        vector_angle_distance_m(a, b), rel=1e-7, abs=1e-6
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(latlon_points, min_size=1, max_size=20))
def test_unit_xyz_has_unit_norm(points: list[tuple[float, float]]) -> None:
    xyz = latlon_to_unit_xyz(np.array(points))
    assert xyz.shape == (len(points), 3)
    np.testing.assert_allclose(np.linalg.norm(xyz, axis=1), 1.0, rtol=1e-15, atol=1e-15)


@settings(max_examples=300, deadline=None)
@given(st.integers(-1000, 1000), st.integers(-1000, 1000))
def test_heading_difference_matches_oracle(a: int, b: int) -> None:
    raw = abs(a - b) % 360
    expected = min(raw, 360 - raw)
    d = float(heading_difference_deg(a, b))
    assert d == expected
    assert 0 <= d <= 180
    assert float(heading_difference_deg(b, a)) == d


@settings(max_examples=200, deadline=None)
@given(
    st.floats(-1e6, 1e6),
    st.floats(-1e6, 1e6),
    st.integers(-3, 3),
)
def test_heading_difference_in_range_and_periodic(a: float, b: float, turns: int) -> None:
    d = float(heading_difference_deg(a, b))
    assert 0 <= d <= 180
    assert float(heading_difference_deg(a + 360 * turns, b)) == pytest.approx(d, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(400_000, 600_000),
    st.integers(4_000_000, 5_000_000),
    st.integers(-200, 200),
    st.integers(-200, 200),
)
def test_utm_distance_is_hypot_of_differences(e: int, n: int, de: int, dn: int) -> None:
    d = float(geo_distance_m([[e, n]], [[e + de, n + dn]], "utm")[0])
    assert d == float(np.hypot(de, dn))  # differences of integers are exact
    assert d == pytest.approx(math.hypot(de, dn), rel=1e-15)  # libm hypot: within 1 ulp


# --- bad inputs ------------------------------------------------------------------------


def _one_line(err: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(err.value)
    assert "\n" not in message and message
    return message


def test_latitude_out_of_range_raises() -> None:
    with pytest.raises(InputError, match="latitude") as err:
        haversine_m([[91.0, 0.0]], [[0.0, 0.0]])
    _one_line(err)
    with pytest.raises(InputError, match=r"\[-90, 90\]"):
        latlon_to_unit_xyz([[0.0, 0.0], [-90.5, 3.0]])
    with pytest.raises(InputError, match="row 1"):
        as_geo_coordinates([[0.0, 0.0], [120.0, 45.0]], "queries", "latlon")


def test_bad_shapes_raise() -> None:
    with pytest.raises(InputError, match="expected") as err:
        haversine_m([[0.0, 0.0, 0.0]], [[0.0, 0.0]])
    _one_line(err)
    with pytest.raises(InputError, match="broadcast") as err:
        geo_distance_m(np.zeros((3, 2)), np.zeros((2, 2)), "utm")
    _one_line(err)


def test_unknown_coordinate_kind_raises() -> None:
    with pytest.raises(InputError, match="'utm'") as err:
        geo_distance_m([[0, 0]], [[0, 0]], "wgs84")
    _one_line(err)
    with pytest.raises(InputError, match="coords"):
        as_geo_coordinates([[0, 0]], "queries", "lonlat")


def test_as_geo_coordinates_rejects_nan() -> None:
    with pytest.raises(InputError, match="NaN") as err:
        as_geo_coordinates([[0.0, np.nan]], "queries", "utm")
    _one_line(err)
