"""Paired tests, Holm-Bonferroni and ranks against hand computations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from vprmetrics.errors import InputError
from vprmetrics.leaderboard.columns import Column
from vprmetrics.leaderboard.scoring import DEFAULT_SETTINGS
from vprmetrics.leaderboard.standings import compare_family
from vprmetrics.leaderboard.statistics import (
    holm,
    paired_test,
    ranks,
    seed_for,
    sign_flip_p_value,
)
from vprmetrics.leaderboard.store import Entry, ProtocolRecord


def test_holm_matches_a_hand_computation():
    # p = 0.01, 0.04, 0.03, 0.005 (m = 4). Sorted: 0.005, 0.01, 0.03, 0.04.
    # Step-down multipliers 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04 -> running max
    # 0.02, 0.03, 0.06, 0.06; back in input order: 0.03, 0.06, 0.06, 0.02.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # Capped at 1 and monotone: 0.3 * 3 = 0.9, 0.5 * 2 = 1.0, 0.6 * 1 -> max 1.0.
    assert holm([0.5, 0.3, 0.6]) == pytest.approx([1.0, 0.9, 1.0])
    assert holm([]).size == 0


def test_holm_rejects_what_the_textbook_step_down_rejects():
    # alpha 0.05, m = 3: p_(1) = 0.01 <= 0.05/3 reject; p_(2) = 0.02 <= 0.05/2 reject;
    # p_(3) = 0.04 <= 0.05/1 reject. With 0.03 in the middle: 0.03 > 0.025 stops there.
    assert (holm([0.02, 0.01, 0.04]) <= 0.05).tolist() == [True, True, True]
    assert (holm([0.03, 0.01, 0.04]) <= 0.05).tolist() == [False, True, False]


@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_holm_properties(p):
    adj = holm(p)
    p = np.asarray(p)
    assert np.all(adj >= p - 1e-15) and np.all(adj <= 1)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(adj[order]) >= 0)  # step-down keeps the order
    assert np.all(adj <= np.minimum(1, len(p) * p) + 1e-15)  # never worse than Bonferroni


def test_sign_flip_exact_p_by_hand():
    # d = (1, 1, 1): of the 8 sign vectors only (+,+,+) and (-,-,-) reach |mean| = 1.
    rng = np.random.default_rng(0)
    assert sign_flip_p_value(np.array([1.0, 1.0, 1.0]), rng) == 0.25
    # d = (2, -1): |mean| 0.5; sign vectors give |mean| 0.5, 1.5, 1.5, 0.5 -> 4/4.
    assert sign_flip_p_value(np.array([2.0, -1.0]), rng) == 1.0


@given(st.lists(st.integers(-3, 3), min_size=2, max_size=9))
def test_sign_flip_exact_agrees_with_scipy(values):
    d = np.asarray(values, dtype=float) / 4
    if not d.any():
        return
    ours = sign_flip_p_value(d, np.random.default_rng(0), n_permutations=1 << 10)
    ref = stats.permutation_test(
        (d,),
        lambda x, axis=-1: np.abs(np.mean(x, axis=axis)),
        permutation_type="samples",
        alternative="greater",
        n_resamples=np.inf,
    ).pvalue
    assert ours == pytest.approx(ref, abs=1e-12)


def test_paired_test_is_reproducible_and_symmetric():
    rng = np.random.default_rng(3)
    a, b = rng.random(300), rng.random(300) * 0.95
    first = paired_test(a, b, seed=7, keys=("x", "y"), n_permutations=999)
    again = paired_test(a, b, seed=7, keys=("x", "y"), n_permutations=999)
    assert first == again
    swapped = paired_test(b, a, seed=7, keys=("y", "x"), n_permutations=999)
    assert swapped.p_value == first.p_value and swapped.difference == -first.difference
    other = [paired_test(a, b, seed=s, keys=("x", "y"), n_permutations=999) for s in range(5)]
    assert len({c.p_value for c in other}) > 1  # the seed drives the random signs
    assert first.low < first.difference < first.high


def test_paired_test_monte_carlo_p_is_never_zero_and_finds_a_clear_gap():
    a = np.r_[np.ones(150), np.zeros(50)]
    c = paired_test(a, np.zeros(200), n_permutations=999)
    assert c.p_value == pytest.approx(1 / 1000)
    assert paired_test(a, a).p_value == 1.0


def test_paired_test_refuses_unpaired_values():
    with pytest.raises(InputError, match="same queries"):
        paired_test(np.ones(3), np.ones(4))


def test_seed_for_ignores_key_order():
    x = seed_for(1, "a", "b").integers(0, 1 << 30, 4)
    y = seed_for(1, "b", "a").integers(0, 1 << 30, 4)
    assert x.tolist() == y.tolist()


def test_ranks_count_the_significantly_better():
    # 0 beats 1 and 2, 1 beats 2: ranks 1, 2, 3. Nobody beats anyone: all rank 1.
    better = np.zeros((3, 3), bool)
    for i, j in itertools.combinations(range(3), 2):
        better[i, j] = True
    assert ranks(better).tolist() == [1, 2, 3]
    assert ranks(np.zeros((3, 3), bool)).tolist() == [1, 1, 1]


def _entry(i: int) -> Entry:
    return Entry(
        i, 1, f"e{i}", "", "", "scored", None, f"sha{i}", [], "", "", "", "", {}, *[None] * 4
    )


@settings(max_examples=25)
@given(
    st.integers(2, 4).flatmap(
        lambda m: st.lists(
            st.lists(st.floats(0, 1), min_size=12, max_size=12), min_size=m, max_size=m
        )
    )
)
def test_family_ranks_are_consistent(values):
    record = ProtocolRecord(
        1, "p", "", "", "", {**DEFAULT_SETTINGS, "n_permutations": 199, "n_resamples": 99},
        "", "",
    )  # fmt: skip
    entries = [_entry(i) for i in range(len(values))]
    arrays = [np.asarray(v) for v in values]
    fam = compare_family(record, entries, arrays, Column("R@1", "recall_at_n", "1"))
    better = fam.better()
    means = np.array([a.mean() for a in arrays])
    assert not (better & better.T).any()
    for j, i in zip(*np.nonzero(better), strict=True):
        assert means[j] > means[i]
    r = ranks(better)
    assert r[np.argmax(means)] == 1 and r.min() == 1 and r.max() <= len(values)
    assert len(fam.tests) == len(values) * (len(values) - 1) // 2
