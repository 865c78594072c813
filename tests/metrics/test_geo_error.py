"""Tests of vprmetrics.metrics.geo_error: retrieval error, its histogram, recall vs threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vprmetrics.errors import InputError, InputTypeError
from vprmetrics.geo.geodesy import haversine_m
from vprmetrics.metrics.geo_error import (
    DEFAULT_THRESHOLDS_M,
    GEO_ERROR_BINS_M,
    geo_error_histogram,
    recall_vs_threshold,
    retrieved_geo_error_m,
)

ORIGIN = np.array([500_000.0, 4_500_000.0])


# --- oracles ---------------------------------------------------------------------------


def histogram_oracle(errors: list[float], bins: tuple[float, ...]) -> list[int]:
    counts = [0] * (len(bins) - 1)
    for e in errors:
        if math.isnan(e):
            continue
        for i in range(len(bins) - 1):
            if (bins[i] < e or (i == 0 and e == bins[0])) and e <= bins[i + 1]:
                counts[i] += 1
                break
    return counts


def recall_oracle(query, database, topk, n: int, t: float) -> float:
    hits = 0
    for q, row in enumerate(topk):
        for j in row[:n]:
            if j >= 0 and np.hypot(*(query[q] - database[j])) <= t:
                hits += 1
                break
    return hits / len(topk)


@st.composite
def retrieval_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_q = draw(st.integers(1, 15))
    n_db = draw(st.integers(1, 30))
    k = draw(st.integers(1, 8))
    cell = st.tuples(st.integers(-40, 40), st.integers(-40, 40))
    query = ORIGIN + 2.5 * np.array(draw(st.lists(cell, min_size=n_q, max_size=n_q)), float)
    database = ORIGIN + 2.5 * np.array(draw(st.lists(cell, min_size=n_db, max_size=n_db)), float)
    ids = st.integers(-1, n_db - 1)
    topk = np.array(
        draw(st.lists(st.lists(ids, min_size=k, max_size=k), min_size=n_q, max_size=n_q)),
        dtype=np.int64,
    )
    return query, database, topk


# --- retrieved_geo_error_m -------------------------------------------------------------


def test_bins_are_the_literature_bins() -> None:
    assert GEO_ERROR_BINS_M[:6] == (0, 5, 10, 15, 20, 25)
    assert GEO_ERROR_BINS_M[6:-1] == (50, 100, 250, 500, 1000, 3000)
    assert GEO_ERROR_BINS_M[-1] == math.inf
    assert DEFAULT_THRESHOLDS_M == tuple(range(5, 101, 5))


def test_errors_top1_and_topk() -> None:
    query = ORIGIN + np.array([[0.0, 0.0], [100.0, 0.0]])
    database = ORIGIN + np.array([[15.0, 20.0], [100.0, 3.0], [0.0, 0.0]])
    assert retrieved_geo_error_m(query, database, [0, 1]).tolist() == [25.0, 3.0]
    errors = retrieved_geo_error_m(query, database, np.array([[2, 0, -1], [-1, -1, 2]]))
    assert errors.shape == (2, 3)
    assert errors[0, :2].tolist() == [0.0, 25.0] and np.isnan(errors[0, 2])
    assert np.isnan(errors[1, :2]).all() and errors[1, 2] == 100.0


def test_errors_latlon_are_haversine() -> None:
    query, database = [[40.44123, -79.99585]], [[40.44150, -79.99600], [40.0, -80.0]]
    errors = retrieved_geo_error_m(query, database, [[1, 0]], coords="latlon")
    assert errors[0].tolist() == haversine_m(query, [database[1], database[0]]).tolist()


@pytest.mark.parametrize(
    ("ids", "error", "match"),
    [
        ([0.0, 1.0], InputTypeError, "integer"),
        ([0], InputError, "one row per query"),
        ([[[0]], [[1]]], InputError, "shape"),
        ([0, 3], InputError, "outside"),
        ([0, -2], InputError, "outside"),
    ],
)
def test_errors_bad_ids(ids, error, match) -> None:
    with pytest.raises(error, match=match) as err:
        retrieved_geo_error_m(np.zeros((2, 2)), np.zeros((3, 2)), ids)
    assert "\n" not in str(err.value)


def test_errors_bad_coordinates() -> None:
    with pytest.raises(InputError, match="latitude"):
        retrieved_geo_error_m([[100.0, 0.0]], [[0.0, 0.0]], [0], coords="latlon")
    with pytest.raises(InputError, match="NaN"):
        retrieved_geo_error_m([[np.nan, 0.0]], [[0.0, 0.0]], [0])
    with pytest.raises(InputError, match="coords"):
        retrieved_geo_error_m([[0.0, 0.0]], [[0.0, 0.0]], [0], coords="xy")


# --- geo_error_histogram ---------------------------------------------------------------


def test_histogram_edges_are_right_closed() -> None:
    h = geo_error_histogram([0.0, 5.0, 5.0000001, 25.0, 25.5, 4000.0, math.nan, math.nan])
    assert h.bins == GEO_ERROR_BINS_M
    assert h.counts.tolist() == [2, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1]
    assert h.n == 6 and h.n_nan == 2
    assert h.cdf[4] == pytest.approx(4 / 6)  # share within 25 m includes the 25.0 error
    assert h.cdf[-1] == 1.0
    assert h.median_m == pytest.approx((5.0000001 + 25.0) / 2)
    assert h.fractions.sum() == pytest.approx(1.0)


def test_histogram_empty_and_all_nan() -> None:
    h = geo_error_histogram([math.nan, math.nan])
    assert h.n == 0 and h.n_nan == 2 and h.counts.sum() == 0
    assert np.isnan(h.cdf).all() and np.isnan(h.fractions).all() and math.isnan(h.median_m)


def test_histogram_finite_last_edge_leaves_large_errors_out_of_the_bins() -> None:
    h = geo_error_histogram([1.0, 2.0, 50.0, 70.0], bins=(0, 10, 50))
    assert h.counts.tolist() == [2, 1] and h.n == 4
    assert h.cdf.tolist() == [0.5, 0.75]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from([0.0, 5.0, 10.0, 25.0, 3000.0, math.nan]),
            st.floats(0, 5000, allow_nan=False),
        ),
        max_size=60,
    )
)
def test_histogram_matches_oracle(errors: list[float]) -> None:
    h = geo_error_histogram(errors)
    assert h.counts.tolist() == histogram_oracle(errors, GEO_ERROR_BINS_M)
    finite = [e for e in errors if not math.isnan(e)]
    assert h.n == len(finite) and h.n_nan == len(errors) - len(finite)
    if finite:
        expected_cdf = [sum(e <= edge for e in finite) / len(finite) for edge in h.bins[1:]]
        np.testing.assert_allclose(h.cdf, expected_cdf, rtol=1e-12)
        assert h.median_m == pytest.approx(float(np.median(finite)))
        assert np.all(np.diff(h.cdf) >= 0)


@pytest.mark.parametrize(
    ("errors", "bins", "match"),
    [
        ([-1.0], GEO_ERROR_BINS_M, "below"),
        ([[1.0, 2.0]], GEO_ERROR_BINS_M, "one error per query"),
        ([1.0], (0,), "at least two"),
        ([1.0], (0, 10, 5), "increasing"),
        ([1.0], (-5, 10), ">= 0"),
        ([1.0], (0, math.nan), "at least two"),
    ],
)
def test_histogram_bad_input(errors, bins, match) -> None:
    with pytest.raises(InputError, match=match) as err:
        geo_error_histogram(errors, bins)
    assert "\n" not in str(err.value)


# --- recall_vs_threshold ---------------------------------------------------------------


def test_recall_vs_threshold_hand_example() -> None:
    query = ORIGIN + np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    database = ORIGIN + np.array([[0.0, 30.0], [0.0, 25.0], [0.0, 4.0], [0.0, 1000.0]])
    topk = np.array([[0, 1, 2], [2, 0, 1], [-1, 3, -1]])
    r = recall_vs_threshold(query, database, topk, ns=(3, 1), thresholds_m=(25, 5, 5))
    assert r.ns == (1, 3) and r.thresholds_m == (5.0, 25.0) and r.n_queries == 3
    np.testing.assert_array_equal(r.recall, [[1 / 3, 1 / 3], [2 / 3, 2 / 3]])
    top1 = recall_vs_threshold(query, database, topk[:, 0], ns=1, thresholds_m=[30])
    assert top1.recall.tolist() == [[2 / 3]]


def test_recall_vs_threshold_defaults() -> None:
    query = ORIGIN[None, :] + np.zeros((2, 2))
    database = ORIGIN + np.array([[0.0, float(t)] for t in range(0, 120, 10)])
    topk = np.tile(np.arange(12)[::-1], (2, 1))  # farthest first
    r = recall_vs_threshold(query, database, topk)
    assert r.ns == (1, 5, 10) and r.thresholds_m == DEFAULT_THRESHOLDS_M
    # top-1 is 110 m away; the top 5 reach 70 m; the top 10 reach 20 m
    assert r.recall[0].tolist() == [0.0] * 20
    assert r.recall[1].tolist() == [0.0] * 13 + [1.0] * 7
    assert r.recall[2].tolist() == [0.0] * 3 + [1.0] * 17


@settings(max_examples=150, deadline=None)
@given(retrieval_case(), st.lists(st.sampled_from([0, 2.5, 5, 7.5, 25, 30, 100]), min_size=1))
def test_recall_vs_threshold_matches_oracle(case, thresholds) -> None:
    query, database, topk = case
    k = topk.shape[1]
    ns = sorted({1, k, (k + 1) // 2})
    r = recall_vs_threshold(query, database, topk, ns=ns, thresholds_m=thresholds)
    assert r.recall.shape == (len(r.ns), len(r.thresholds_m))
    for i, n in enumerate(r.ns):
        for j, t in enumerate(r.thresholds_m):
            assert r.recall[i, j] == pytest.approx(recall_oracle(query, database, topk, n, t))
    assert np.all(np.diff(r.recall, axis=0) >= 0) and np.all(np.diff(r.recall, axis=1) >= 0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ns": (1, 5)}, InputError, "exceeds"),
        ({"ns": (0,)}, InputError, "positive integer"),
        ({"thresholds_m": ()}, InputError, "thresholds_m"),
        ({"thresholds_m": (-1,)}, InputError, "thresholds_m"),
        ({"thresholds_m": (math.nan,)}, InputError, "thresholds_m"),
        ({"topk_ids": np.zeros((0, 2), np.int64)}, InputError, "shape"),
        ({"topk_ids": np.zeros((2, 2))}, InputTypeError, "integer"),
        ({"coords": "latlon", "query_coords": [[95.0, 0.0]] * 2}, InputError, "latitude"),
    ],
)
def test_recall_vs_threshold_bad_input(kwargs, error, match) -> None:
    args = {
        "query_coords": np.zeros((2, 2)),
        "database_coords": np.zeros((3, 2)),
        "topk_ids": np.zeros((2, 2), np.int64),
        "ns": (1,),
        **kwargs,
    }
    with pytest.raises(error, match=match) as err:
        recall_vs_threshold(**args)
    assert "\n" not in str(err.value)
