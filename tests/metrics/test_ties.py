"""Tie policies: exact formulas, exhaustive permutation check, ordering and bounds."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.oracle import success
from vprmetrics.metrics.ties import TIE_POLICIES, success_probability

counts = st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(1, 6))


def _probability(L, T, S, B, n, policy):
    return success_probability([L], [T], [S], [B], [n], policy)[0, 0]


@given(counts, st.integers(0, 40), st.sampled_from(TIE_POLICIES), st.data())
def test_matches_exact_fraction_oracle(lts, n, policy, data):
    L, T, S = lts
    B = data.draw(st.integers(0, T))
    expected = success({"L": L, "T": T, "S": S, "B": B}, n, policy)
    assert abs(_probability(L, T, S, B, n, policy) - float(expected)) < 1e-12


@given(st.integers(0, 4), st.integers(0, 4), st.integers(1, 3), st.integers(0, 9))
def test_expected_equals_average_over_all_orders_of_the_tied_block(L, T, S, n):
    """Enumerate every order of the tied block: the mean success is the expected policy."""
    block = ["neg"] * T + ["pos"] * S
    orders = list(itertools.permutations(range(T + S)))
    hits = 0
    for order in orders:
        first = next(i for i, j in enumerate(order) if block[j] == "pos")
        hits += L + first + 1 <= n
    assert abs(_probability(L, T, S, 0, n, "expected") - hits / len(orders)) < 1e-12


@given(counts, st.integers(0, 40), st.data())
def test_policy_ordering_and_bounds(lts, n, data):
    L, T, S = lts
    B = data.draw(st.integers(0, T))
    p = {pol: _probability(L, T, S, B, n, pol) for pol in TIE_POLICIES}
    assert 0.0 <= p["pessimistic"] <= p["expected"] <= p["optimistic"] <= 1.0
    assert p["pessimistic"] <= p["stable"] <= p["optimistic"]


@given(counts, st.sampled_from(TIE_POLICIES))
def test_monotone_in_n(lts, policy):
    L, T, S = lts
    values = success_probability([L], [T], [S], [T // 2], np.arange(0, 50), policy)[0]
    assert np.all(np.diff(values) >= -1e-15)


def test_hand_checked_values():
    # L=2 closer negatives, T=2 tied negatives, S=1: the positive is 3rd, 4th or 5th
    assert _probability(2, 2, 1, 0, 2, "expected") == 0.0
    assert abs(_probability(2, 2, 1, 0, 3, "expected") - 1 / 3) < 1e-15
    assert abs(_probability(2, 2, 1, 0, 4, "expected") - 2 / 3) < 1e-15
    assert _probability(2, 2, 1, 0, 5, "expected") == 1.0
    # two positives in a block of four: P(first of them within 1) = 1/2, within 2 = 5/6
    assert abs(_probability(0, 2, 2, 0, 1, "expected") - 0.5) < 1e-15
    assert abs(_probability(0, 2, 2, 0, 2, "expected") - 5 / 6) < 1e-15
    assert _probability(0, 5, 1, 3, 4, "stable") == 1.0
    assert _probability(0, 5, 1, 4, 4, "stable") == 0.0


def test_no_positive_is_a_failure_and_large_counts_are_stable():
    assert success_probability([0], [5], [0], [0], [10], "optimistic")[0, 0] == 0.0
    # a constant descriptor on a million items: chance level S / (T + S)
    p = _probability(0, 999_990, 10, 0, 1, "expected")
    assert abs(p - float(Fraction(10, 1_000_000))) < 1e-12 * p


@pytest.mark.parametrize(
    ("t", "s", "m"),
    [
        (30_000_000, 6101, 4328),  # the case the review found 1e-7 off
        (1_000_000_000, 6101, 4328),
        (1_000_000_000, 100_000, 50_000),
        (1_000_000_000 - 5000, 5000, 4500),
        (999_000_000, 1_000_000, 998_999_997),
        (500_000_000, 500_000_000, 4100),
        (10_000, 4097, 9990),
    ],
)
def test_expected_policy_relative_error_below_1e9_up_to_a_billion(t, s, m):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    log_ratio = (
        mpmath.loggamma(t + 1)
        + mpmath.loggamma(t + s - m + 1)
        - mpmath.loggamma(t - m + 1)
        - mpmath.loggamma(t + s + 1)
    )
    exact = 1 - mpmath.exp(log_ratio)
    got = success_probability(
        np.array([0]), np.array([t]), np.array([s]), np.array([0]), [m], "expected"
    )[0, 0]
    assert abs(got - exact) / exact < 1e-9
