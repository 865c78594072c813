"""Ties decided exactly: large tie groups in the top-k, tie_rtol = 0, ties near zero."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.oracle import oracle
from vprmetrics import Positives
from vprmetrics.metrics.recall import recall_at_n
from vprmetrics.metrics.retrieval import map_at_k, precision_at_k
from vprmetrics.ranking import limits
from vprmetrics.ranking.engine import rank

V = np.array([0.3, -1.7, 2.9, 0.4])


def _tie_group_cases():
    """Many items that tie within tie_rtol but differ in the last bits of float64."""
    scales = np.linspace(0.5, 5, 40)
    yield "cosine", V[None, :], V * scales[:, None]  # rescaled copies of one vector
    rng = np.random.default_rng(1)
    a, b = rng.integers(-30, 31, size=(2, 40)) / 10  # UTM-scale rows, equal sums
    db = 4.2e6 + np.stack([a, b, -(a + b)], axis=1)
    yield "ip", np.ones((1, 3)), db
    q = np.array([[1.0, 2.0, 3.0]])  # mixed-scale l2: |q - x| equal up to rounding
    u = np.array([1.0, -1.0, 0.0]) / np.sqrt(2.0)
    w = np.array([1.0, 1.0, -2.0]) / np.sqrt(6.0)
    angles = np.linspace(0.1, 6.0, 40)
    yield "l2", q, q + 1e3 * (np.cos(angles)[:, None] * u + np.sin(angles)[:, None] * w)


def test_issue_example_top1_is_the_lowest_index_of_the_tie_group():
    db = V * np.linspace(0.5, 5, 40)[:, None]
    gt = Positives.from_lists([[0]], 40)
    for k in (1, 2, 5, 17, 40):
        f = rank(V[None, :], db, gt, metric="cosine", k=k)
        assert (f.closer[0], f.tied_negatives[0]) == (0, 39)
        assert f.topk_ids[0].tolist() == list(range(k))
        assert recall_at_n(f, [1], "stable") == {1: 1.0}
        assert map_at_k(f, gt, [1]) == {1: 1.0} and precision_at_k(f, gt, [1]) == {1: 1.0}


@pytest.mark.parametrize("case", list(_tie_group_cases()), ids=lambda c: c[0])
@pytest.mark.parametrize("paths", [{}, {"POOL_START": 1, "POOL_MAX": 1, "POOL_KEEP_FACTOR": 1}])
def test_tie_groups_larger_than_the_pool_match_the_oracle(case, paths, monkeypatch):
    metric, q, db = case
    for name, value in paths.items():
        monkeypatch.setattr(limits, name, value)
    positives = [[int(j)] for j in (0, 7, 39)]
    queries = np.repeat(q, 3, axis=0)
    expected_all = oracle(queries, db, positives, metric, 1e-9, db.shape[0])
    assert expected_all[0]["T"] >= 20  # the case is what it claims to be
    raw = -(db @ q[0]) if metric != "l2" else ((db - q[0]) ** 2).sum(axis=1)
    assert len(set(raw.tolist())) > 1
    gt = Positives.from_lists(positives, db.shape[0])
    for k in (1, 3, 8, 40):
        for block in (None, 7):
            f = rank(queries, db, gt, metric=metric, k=k, block_size=block)
            for i, e in enumerate(expected_all):
                assert f.topk_ids[i].tolist() == e["topk"][:k], (k, block, i)
                got = (f.closer[i], f.tied_negatives[i], f.tied_negatives_before[i])
                assert got == (e["L"], e["T"], e["B"])


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_tie_rtol_zero_is_exact_equality(metric):
    db = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 1e-12], [2.0, 0.5]])
    q = np.array([[0.5, 0.25]])
    gt = Positives.from_lists([[1]], 4)
    f = rank(q, db, gt, metric=metric, k=4, tie_rtol=0.0)
    e = oracle(q, db, [[1]], metric, 0.0, 4)[0]
    assert (f.closer[0], f.tied_negatives[0], f.tied_positives[0]) == (e["L"], e["T"], e["S"])
    assert f.tied_negatives[0] >= 1  # the identical row 0 ties exactly
    assert f.topk_ids[0].tolist() == e["topk"]


@given(st.sampled_from(["l2", "ip", "cosine"]), st.integers(1, 4), st.integers(0, 3))
def test_tie_rtol_zero_matches_the_oracle(metric, k, pos):
    rng = np.random.default_rng(k + 10 * pos)
    distinct = rng.integers(-2, 3, size=(3, 3)).astype(np.float64)
    db = distinct[rng.integers(0, 3, size=8)]
    q = rng.integers(-2, 3, size=(2, 3)).astype(np.float64)
    positives = [[pos], [pos, 5]]
    gt = Positives.from_lists(positives, 8)
    f = rank(q, db, gt, metric=metric, k=k, tie_rtol=0.0)
    for i, e in enumerate(oracle(q, db, positives, metric, 0.0, k)):
        got = (f.closer[i], f.tied_negatives[i], f.tied_positives[i], f.tied_negatives_before[i])
        assert got == (e["L"], e["T"], e["S"], e["B"])
        assert f.topk_ids[i].tolist() == e["topk"]


@pytest.mark.parametrize("metric", ["ip", "cosine"])
def test_equal_inner_products_near_zero_tie(metric):
    """The permutations of [0.1, 0.2, -0.3] have the same exact inner product with [1, 1, 1]
    (zero), but float64 sums differ in the last bits; they tie relative to |q| |x|."""
    db = np.array(list(itertools.permutations([0.1, 0.2, -0.3])))
    sums = db @ np.ones(3)
    assert len(set(sums.tolist())) > 1  # float64 really differs
    f = rank(np.ones((1, 3)), db, Positives.from_lists([[0]], 6), metric=metric, k=6)
    assert (f.closer[0], f.tied_negatives[0], f.tied_positives[0]) == (0, 5, 1)
    assert f.topk_ids[0].tolist() == list(range(6))
