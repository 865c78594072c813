"""Tests of vprmetrics.geo.ground_truth against a brute-force all-pairs float64 oracle."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vprmetrics.geo.ground_truth as ground_truth
from vprmetrics.errors import InputError, InputTypeError
from vprmetrics.geo.geodesy import haversine_m
from vprmetrics.geo.ground_truth import positives_from_pairs, positives_within_radius
from vprmetrics.geo.positives import Positives

UTM_ORIGINS = [(0.0, 0.0), (500_000.0, 4_500_000.0), (584_744.97, 4_476_709.92)]
LATLON_ORIGINS = [(40.44123, -79.99585), (0.0, 179.9998), (89.9997, 0.0), (-33.86, 151.21)]


# --- the oracle ------------------------------------------------------------------------


def oracle(
    query: np.ndarray,
    database: np.ndarray,
    radius: float,
    coords: str = "utm",
    query_headings: np.ndarray | None = None,
    database_headings: np.ndarray | None = None,
    max_heading_deg: float | None = None,
) -> Positives:
    """All pairs in float64: np.hypot of coordinate differences (UTM) or the haversine
    (whose accuracy tests/test_geodesy.py checks against an independent formula)."""
    query, database = np.asarray(query, float), np.asarray(database, float)
    if coords == "utm":
        dist = np.hypot(
            query[:, None, 0] - database[None, :, 0], query[:, None, 1] - database[None, :, 1]
        )
    else:
        dist = haversine_m(query[:, None, :], database[None, :, :])
    mask = dist <= radius
    if max_heading_deg is not None:
        raw = np.abs(np.subtract.outer(query_headings, database_headings)) % 360
        mask &= np.minimum(raw, 360 - raw) <= max_heading_deg
    return Positives.from_lists([np.flatnonzero(row) for row in mask], len(database))


def assert_same(got: Positives, expected: Positives) -> None:
    assert got.n_database == expected.n_database
    assert got.lims.tolist() == expected.lims.tolist()
    assert got.ids.tolist() == expected.ids.tolist()


# --- strategies: grids full of duplicates and exact boundary distances ----------------


@st.composite
def utm_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, float]:
    origin = np.array(draw(st.sampled_from(UTM_ORIGINS)))
    step = draw(st.sampled_from([1.0, 0.01, 5.0]))  # metres, centimetres, a coarse grid
    cell = st.tuples(st.integers(-30, 30), st.integers(-30, 30))
    query = origin + step * np.array(draw(st.lists(cell, min_size=1, max_size=25)), float)
    database = origin + step * np.array(draw(st.lists(cell, min_size=1, max_size=60)), float)
    kind = draw(st.sampled_from(["fixed", "pair"]))
    if kind == "fixed":
        radius = draw(st.sampled_from([0.0, 1.0, 5.0, 10.0, 25.0, 24.999999, 25.000001]))
    else:  # exactly the float64 distance of one pair: that pair sits on the boundary
        i = draw(st.integers(0, len(query) - 1))
        j = draw(st.integers(0, len(database) - 1))
        radius = float(np.hypot(*(query[i] - database[j])))
    return query, database, radius


@st.composite
def latlon_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, float]:
    origin = np.array(draw(st.sampled_from(LATLON_ORIGINS)))
    cell = st.tuples(st.integers(-25, 25), st.integers(-25, 25))

    def points(max_size: int) -> np.ndarray:
        p = origin + 1e-5 * np.array(draw(st.lists(cell, min_size=1, max_size=max_size)), float)
        p[:, 0] = np.clip(p[:, 0], -90, 90)
        return p

    query, database = points(20), points(50)
    if draw(st.booleans()):
        radius = draw(st.sampled_from([0.0, 2.0, 10.0, 25.0]))
    else:
        i = draw(st.integers(0, len(query) - 1))
        j = draw(st.integers(0, len(database) - 1))
        radius = float(haversine_m(query[i], database[j]))
    return query, database, radius


# --- hand-checked examples -------------------------------------------------------------


@pytest.mark.parametrize("origin", UTM_ORIGINS[:2])
def test_points_exactly_at_25_m_are_positive(origin: tuple[float, float]) -> None:
    offsets = [(15, 20), (-20, 15), (7, -24), (-24, -7), (0, 25), (-25, 0)]
    beyond = [(25.000001, 0), (0, -25.000001), (18, 18)]  # 18*sqrt(2) = 25.46
    database = np.array(origin) + np.array(offsets + beyond, float)
    gt = positives_within_radius([origin], database, 25)
    assert gt.ids.tolist() == [0, 1, 2, 3, 4, 5]
    # at UTM magnitudes 500_025.000001 is stored with ~1e-10 m rounding: widen a little
    assert positives_within_radius([origin], database, 25.00001).counts.tolist() == [8]


def test_integer_coordinates_and_integer_radius() -> None:
    gt = positives_within_radius(
        np.array([[500_000, 4_500_000]]), np.array([[500_015, 4_500_020]]), 25
    )
    assert gt.ids.tolist() == [0]


def test_boundary_found_where_the_kd_tree_alone_misses_it() -> None:
    # scipy's kd-tree compares squared distances and drops this pair at r = hypot(2, 3);
    # the inflated search plus the exact re-check keeps it (found by the oracle tests).
    radius = float(np.hypot(2.0, 3.0))
    assert positives_within_radius([[1.0, 0.0]], [[-1.0, 3.0]], radius).ids.tolist() == [0]


def test_numpy_scalars_are_accepted() -> None:
    gt = positives_within_radius([[0, 0]], [[0, 25]], np.array(25), max_heading_deg=np.float32(10),
                                 query_headings=[0], database_headings=[5])  # fmt: skip
    assert gt.ids.tolist() == [0]


def test_duplicates_are_positives_at_radius_zero() -> None:
    database = [[1.5, 2.5], [1.5, 2.5], [1.5, 2.50001]]
    gt = positives_within_radius([[1.5, 2.5]], database, 0.0)
    assert gt.ids.tolist() == [0, 1]


def test_queries_without_positives_and_empty_inputs() -> None:
    gt = positives_within_radius([[0, 0], [100, 100]], [[0, 10]], 25)
    assert gt.lims.tolist() == [0, 1, 1]
    gt = positives_within_radius(np.zeros((2, 2)), np.zeros((0, 2)), 25)
    assert gt.lims.tolist() == [0, 0, 0] and gt.n_database == 0
    gt = positives_within_radius(np.zeros((0, 2)), np.zeros((3, 2)), 25)
    assert gt.n_queries == 0 and gt.ids.size == 0


def test_heading_wraps_at_360() -> None:
    database = np.zeros((4, 2))
    gt = positives_within_radius(
        [[0, 0]],
        database,
        25,
        query_headings=[359],
        database_headings=[1, 3, 330, 180],
        max_heading_deg=2,
    )
    assert gt.ids.tolist() == [0]
    gt = positives_within_radius(
        [[0, 0]], database, 25, query_headings=[359], database_headings=[1, 3, 330, 180],
        max_heading_deg=180,
    )  # fmt: skip
    assert gt.ids.tolist() == [0, 1, 2, 3]


def test_latlon_boundary_is_inclusive() -> None:
    query, database = np.array([[40.44123, -79.99585]]), np.array([[40.44143, -79.99585]])
    d = float(haversine_m(query, database)[0])  # about 22.2 m
    assert positives_within_radius(query, database, d, coords="latlon").ids.tolist() == [0]
    below = np.nextafter(d, 0.0)
    assert positives_within_radius(query, database, below, coords="latlon").ids.size == 0


def test_latlon_across_the_antimeridian_and_the_pole() -> None:
    gt = positives_within_radius(
        [[0.0, 179.9999], [89.99999, 0.0]],
        [[0.0, -179.9999], [89.99999, 180.0], [0.0, 0.0]],
        25,
        coords="latlon",
    )
    assert [gt.of(0).tolist(), gt.of(1).tolist()] == [[0], [1]]  # 22.2 m and 2.2 m apart


def test_several_query_blocks_match_the_oracle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ground_truth, "_QUERY_BLOCK", 7)
    rng = np.random.default_rng(0)
    query = np.array(UTM_ORIGINS[1]) + rng.integers(0, 80, (50, 2))
    database = np.array(UTM_ORIGINS[1]) + rng.integers(0, 80, (300, 2))
    assert_same(positives_within_radius(query, database, 25), oracle(query, database, 25))


# --- properties against the oracle -----------------------------------------------------


@settings(max_examples=250, deadline=None)
@given(utm_case())
def test_utm_matches_oracle(case: tuple[np.ndarray, np.ndarray, float]) -> None:
    query, database, radius = case
    assert_same(positives_within_radius(query, database, radius), oracle(query, database, radius))


@settings(max_examples=150, deadline=None)
@given(latlon_case())
def test_latlon_matches_oracle(case: tuple[np.ndarray, np.ndarray, float]) -> None:
    query, database, radius = case
    got = positives_within_radius(query, database, radius, coords="latlon")
    assert_same(got, oracle(query, database, radius, "latlon"))


@settings(max_examples=150, deadline=None)
@given(utm_case(), st.data())
def test_headings_match_oracle(
    case: tuple[np.ndarray, np.ndarray, float], data: st.DataObject
) -> None:
    query, database, radius = case

    def headings(n: int) -> np.ndarray:
        return np.array(data.draw(st.lists(st.integers(-360, 720), min_size=n, max_size=n)), float)

    qh, dh = headings(len(query)), headings(len(database))
    limit = data.draw(st.integers(0, 180))
    got = positives_within_radius(
        query, database, radius, query_headings=qh, database_headings=dh, max_heading_deg=limit
    )
    assert_same(got, oracle(query, database, radius, "utm", qh, dh, limit))


@settings(max_examples=100, deadline=None)
@given(utm_case(), st.randoms(use_true_random=False))
def test_permuting_database_rows_permutes_ids(
    case: tuple[np.ndarray, np.ndarray, float], rnd
) -> None:
    query, database, radius = case
    perm = np.arange(len(database))
    rnd.shuffle(perm)
    gt = positives_within_radius(query, database, radius)
    gt_perm = positives_within_radius(query, database[perm], radius)
    for q in range(len(query)):
        assert np.sort(perm[gt_perm.of(q)]).tolist() == gt.of(q).tolist()


@settings(max_examples=100, deadline=None)
@given(utm_case(), st.floats(0, 40), st.floats(0, 40))
def test_monotone_in_radius(
    case: tuple[np.ndarray, np.ndarray, float], r1: float, r2: float
) -> None:
    query, database, _ = case
    small = positives_within_radius(query, database, min(r1, r2))
    large = positives_within_radius(query, database, max(r1, r2))
    for q in range(len(query)):
        assert set(small.of(q).tolist()) <= set(large.of(q).tolist())


# --- positives_from_pairs --------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 6)), max_size=40))
def test_pairs_match_from_lists(pairs: list[tuple[int, int]]) -> None:
    lists: list[list[int]] = [[] for _ in range(5)]
    for q, j in pairs:
        lists[q].append(j)
    assert_same(
        positives_from_pairs(np.array(pairs, dtype=np.int64).reshape(-1, 2), 5, 7),
        Positives.from_lists(lists, 7),
    )


def test_pairs_empty_and_one_to_one() -> None:
    assert positives_from_pairs([], 3, 4).lims.tolist() == [0, 0, 0, 0]
    assert_same(positives_from_pairs([[i, i] for i in range(4)], 4, 4), Positives.one_to_one(4))


@pytest.mark.parametrize(
    ("pairs", "n_queries", "n_database", "error", "match"),
    [
        ([[0.0, 1.0]], 2, 2, InputTypeError, "integer"),
        ([[0, 1, 2]], 2, 3, InputError, "shape"),
        ([[0, 5]], 2, 3, InputError, "database indices"),
        ([[-1, 0]], 2, 3, InputError, "query indices"),
        ([[0, 0]], -1, 3, InputError, "n_queries"),
        ([[0, 0]], 1, 2.5, InputError, "n_database"),
    ],
)
def test_pairs_bad_input(pairs, n_queries, n_database, error, match) -> None:
    with pytest.raises(error, match=match) as err:
        positives_from_pairs(pairs, n_queries, n_database)
    assert "\n" not in str(err.value)


# --- bad inputs ------------------------------------------------------------------------

GOOD_Q, GOOD_D = [[0.0, 0.0]], [[1.0, 1.0]]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"radius_m": -1.0}, InputError, "radius_m"),
        ({"radius_m": float("nan")}, InputError, "radius_m"),
        ({"radius_m": float("inf")}, InputError, "radius_m"),
        ({"radius_m": "25"}, InputTypeError, "radius_m"),
        ({"radius_m": True}, InputTypeError, "radius_m"),
        ({"query_coords": [[0.0, 0.0, 0.0]]}, InputError, "shape"),
        ({"database_coords": [0.0, 1.0]}, InputError, "shape"),
        ({"query_coords": [[np.nan, 0.0]]}, InputError, "NaN"),
        ({"database_coords": [[0.0, np.inf]]}, InputError, "NaN or inf"),
        ({"query_coords": [["a", "b"]]}, InputTypeError, "dtype"),
        ({"coords": "wgs84"}, InputError, "coords"),
        ({"coords": "latlon", "query_coords": [[91.0, 0.0]]}, InputError, "latitude"),
        ({"coords": "latlon", "database_coords": [[7.0, 45.0], [-95.0, 3.0]]}, InputError, "row 1"),
        ({"query_headings": [0.0], "database_headings": [0.0]}, InputError, "max_heading_deg"),
        ({"max_heading_deg": 30}, InputError, "both"),
        ({"max_heading_deg": 30, "query_headings": [0.0]}, InputError, "both"),
        (
            {"max_heading_deg": 200, "query_headings": [0.0], "database_headings": [0.0]},
            InputError,
            r"\[0, 180\]",
        ),
        (
            {"max_heading_deg": float("nan"), "query_headings": [0], "database_headings": [0]},
            InputError,
            r"\[0, 180\]",
        ),
        (
            {"max_heading_deg": 30, "query_headings": [0.0, 1.0], "database_headings": [0.0]},
            InputError,
            "query_headings",
        ),
        (
            {"max_heading_deg": 30, "query_headings": [0.0], "database_headings": [np.nan]},
            InputError,
            "database_headings",
        ),
    ],
)
def test_bad_input_raises_one_line_error(kwargs, error, match) -> None:
    args = {"query_coords": GOOD_Q, "database_coords": GOOD_D, "radius_m": 25.0, **kwargs}
    with pytest.raises(error, match=match) as err:
        positives_within_radius(**args)
    assert "\n" not in str(err.value)


# --- scale -----------------------------------------------------------------------------


@pytest.mark.slow
def test_one_million_database_points_ten_thousand_queries() -> None:
    rng = np.random.default_rng(7)
    origin = np.array(UTM_ORIGINS[2])
    database = origin + np.round(rng.uniform(0, 10_000, (1_000_000, 2)), 2)
    query = origin + np.round(rng.uniform(0, 10_000, (10_000, 2)), 2)
    start = time.perf_counter()
    gt = positives_within_radius(query, database, 25.0)
    elapsed = time.perf_counter() - start
    print(f"\npositives_within_radius 1M x 10k: {elapsed:.2f} s, {gt.ids.size} positives")
    assert gt.n_queries == 10_000 and 150_000 < gt.ids.size < 250_000
    assert elapsed < 30
    sample = rng.choice(10_000, 40, replace=False)
    assert_same(gt.subset(sample), oracle(query[sample], database, 25.0))
