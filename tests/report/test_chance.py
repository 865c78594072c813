"""Chance level against exact rational arithmetic, on counts full of duplicates."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from vprmetrics.report.chance import chance_recall


def _exact(counts: list[int], n: int, cut: int) -> float:
    """mean of 1 - C(n - p, N) / C(n, N), N = min(cut, n), in exact fractions."""
    m = min(cut, n)
    total = sum(1 - Fraction(math.comb(n - p, m), math.comb(n, m)) for p in counts if p > 0)
    return float(total / len(counts))


@given(
    n=st.integers(1, 400),
    counts=st.lists(st.integers(0, 6), min_size=1, max_size=40),
    cuts=st.lists(st.integers(1, 450), min_size=1, max_size=4),
    scale=st.integers(1, 60),
)
def test_chance_matches_exact_fractions(n, counts, cuts, scale):
    counts = [min(c * scale, n) for c in counts]  # few distinct values, many repeats
    got = chance_recall(np.array(counts), n, cuts)
    expected = [_exact(counts, n, c) for c in cuts]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_chance_by_hand_and_edges():
    # n = 10, p = 10: every item is a positive; p = 0 scores 0; N >= n finds any positive
    assert chance_recall(np.array([10, 0]), 10, [1, 10, 50]) == [0.5, 0.5, 0.5]
    # p = 1 of n = 5: N / n; one query
    assert chance_recall(np.array([1]), 5, [1, 2, 5]) == [0.2, 0.4, 1.0]
    assert all(math.isnan(v) for v in chance_recall(np.array([], dtype=int), 5, [1, 2]))
