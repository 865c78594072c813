"""PSSR histogram edges are exact; a bootstrap interval depends only on its own values."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from vprmetrics.metrics.intervals import bootstrap_interval
from vprmetrics.metrics.pssr import pssr
from vprmetrics.ranking.facts import RankingFacts


def _facts(k_q: np.ndarray, n: int) -> RankingFacts:
    """Facts whose k_q = L + T + S are the given counts (S = 1, T = 0)."""
    nq = k_q.size
    zero = np.zeros(nq, dtype=np.int64)
    return RankingFacts(
        d_star=np.zeros(nq), closer=k_q - 1, tied_negatives=zero, tied_positives=zero + 1,
        tied_negatives_before=zero, n_positives=zero + 1, topk_ids=zero[:, None],
        topk_distances=np.zeros((nq, 1)), n_database=n,
    )  # fmt: skip


@given(st.integers(1, 400), st.integers(1, 25), st.data())
def test_pssr_histogram_bins_exactly(n, bins, data):
    k_q = np.array(data.draw(st.lists(st.integers(1, n), min_size=1, max_size=30)))
    counts = pssr(_facts(k_q, n), bins=bins).histogram_counts
    expected = np.zeros(bins, dtype=np.int64)
    for k in k_q:  # bin i holds i/bins <= (n - k)/n < (i+1)/bins, in integers
        expected[min((n - k) * bins // n, bins - 1)] += 1
    assert counts.tolist() == expected.tolist()


def test_values_on_every_edge_land_in_the_bin_they_open():
    n = 20
    k_q = n - np.arange(20)  # PSSR = i / 20 for i = 0 .. 19
    s = pssr(_facts(k_q, n), bins=20)
    assert s.histogram_counts.tolist() == [1] * 20
    assert s.histogram_edges.tolist() == [i / 20 for i in range(21)]


@given(st.integers(0, 2**32 - 1))
def test_interval_does_not_depend_on_the_other_columns(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 600))
    a = (rng.random(n) < rng.random()).astype(float)
    b = rng.random(n) * (rng.random(n) < 0.5)
    alone = bootstrap_interval(a[:, None], seed=0)
    together = bootstrap_interval(np.stack([b, a], axis=1), seed=0)
    assert (alone[0][0], alone[1][0]) == (together[0][1], together[1][1])


def test_interval_of_the_review_case_is_independent():
    rng = np.random.default_rng(2)  # a case where one vectorised call moved the interval
    n = int(rng.integers(50, 600))
    a = (rng.random(n) < rng.random()).astype(float)
    b = rng.random(n) * (rng.random(n) < 0.5)
    alone = bootstrap_interval(a[:, None], seed=0)
    together = bootstrap_interval(np.stack([b, a], axis=1), seed=0)
    assert (alone[0][0], alone[1][0]) == (together[0][1], together[1][1])


def test_percentile_interval_depends_only_on_its_column_and_covers_the_mean():
    rng = np.random.default_rng(9)
    a = (rng.random(6000) < 0.8).astype(float)
    b = rng.random(6000)
    alone = bootstrap_interval(a[:, None], seed=3, method="percentile")
    together = bootstrap_interval(np.stack([b, a], axis=1), seed=3, method="percentile")
    assert (alone[0][0], alone[1][0]) == (together[0][1], together[1][1])
    assert alone[0][0] < a.mean() < alone[1][0]
    assert alone[1][0] - alone[0][0] < 4.5 * np.sqrt(0.8 * 0.2 / 6000)
