"""Every metric through the same hypothesis invariants, and against the float64 oracle.

The registry below maps a metric name to a function ``(facts, positives, policy, cut-offs)
-> per-cut-off values``; each property runs over every entry.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.helpers.oracle import oracle, success
from tests.helpers.strategies import problems
from vprmetrics import Positives
from vprmetrics.metrics.pssr import pssr
from vprmetrics.metrics.recall import percent_cutoff, recall_at_n, recall_at_percent
from vprmetrics.metrics.retrieval import map_at_k, precision_at_k
from vprmetrics.metrics.ties import TIE_POLICIES
from vprmetrics.ranking.engine import rank

PERMUTABLE = ("expected", "optimistic", "pessimistic")  # stable depends on database order


def _recall(facts, gt, policy, cuts, rule):
    return list(recall_at_n(facts, cuts, policy, rule).values())


def _recall_percent(facts, gt, policy, cuts, rule):
    percents = [100 * c / facts.n_database for c in cuts]
    return list(recall_at_percent(facts, percents, policy, rule).values())


def _map(facts, gt, policy, cuts, rule):
    return list(map_at_k(facts, gt, cuts, rule).values())


def _precision(facts, gt, policy, cuts, rule):
    return list(precision_at_k(facts, gt, cuts, rule).values())


def _pssr(facts, gt, policy, cuts, rule):
    return [pssr(facts, rule).mean]


METRICS = {
    "recall_at_n": _recall,
    "recall_at_percent": _recall_percent,
    "map_at_k": _map,
    "precision_at_k": _precision,
    "pssr": _pssr,
}
TOPK_METRICS = ("map_at_k", "precision_at_k")  # read the index-ordered top-k list


def _setup(problem, metric="l2"):
    queries, database, positives = problem
    n = database.shape[0]
    gt = Positives.from_lists(positives, n)
    facts = rank(queries, database, gt, metric=metric, k=n)
    return queries, database, positives, gt, facts


@pytest.mark.parametrize("name", METRICS)
@given(problems(), st.sampled_from(TIE_POLICIES), st.sampled_from(["miss", "exclude"]))
def test_bounds(name, problem, policy, rule):
    _, _, positives, gt, facts = _setup(problem)
    assume(rule != "exclude" or any(positives))
    values = METRICS[name](facts, gt, policy, list(range(1, facts.n_database + 1)), rule)
    assert all(0.0 <= v <= 1.0 for v in values)


@pytest.mark.parametrize("name", ["recall_at_n", "recall_at_percent"])
@given(problems(), st.sampled_from(TIE_POLICIES))
def test_monotone_in_cutoff(name, problem, policy):
    _, _, _, gt, facts = _setup(problem)
    values = METRICS[name](facts, gt, policy, list(range(1, facts.n_database + 1)), "miss")
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(values))
    assert values[-1] == pytest.approx(float(np.mean(facts.has_positive)))  # N = n finds all


@pytest.mark.parametrize("name", ["recall_at_n", "recall_at_percent"])
@given(problems())
def test_policy_ordering(name, problem):
    _, _, _, gt, facts = _setup(problem)
    cuts = list(range(1, facts.n_database + 1))
    v = {p: np.array(METRICS[name](facts, gt, p, cuts, "miss")) for p in TIE_POLICIES}
    assert np.all(v["optimistic"] >= v["expected"] - 1e-12)
    assert np.all(v["expected"] >= v["pessimistic"] - 1e-12)
    assert np.all(v["optimistic"] >= v["stable"]) and np.all(v["stable"] >= v["pessimistic"])


@pytest.mark.parametrize("name", [m for m in METRICS if m not in TOPK_METRICS])
@given(problems(), st.sampled_from(PERMUTABLE), st.sampled_from(["l2", "ip", "cosine"]), st.data())
def test_invariant_under_database_and_query_permutation(name, problem, policy, metric, data):
    queries, database, positives, gt, facts = _setup(problem, metric)
    n, nq = database.shape[0], queries.shape[0]
    perm_db = np.array(data.draw(st.permutations(range(n))))
    perm_q = np.array(data.draw(st.permutations(range(nq))))
    inverse = np.argsort(perm_db)
    moved = [sorted(inverse[j] for j in positives[i]) for i in perm_q]
    gt2 = Positives.from_lists(moved, n)
    facts2 = rank(queries[perm_q], database[perm_db], gt2, metric=metric, k=n)
    cuts = list(range(1, n + 1))
    a = METRICS[name](facts, gt, policy, cuts, "miss")
    b = METRICS[name](facts2, gt2, policy, cuts, "miss")
    assert np.allclose(a, b, atol=1e-12)


@given(problems(), st.sampled_from(["l2", "ip", "cosine"]))
def test_topk_metrics_invariant_under_query_permutation(problem, metric):
    queries, database, positives, gt, facts = _setup(problem, metric)
    perm = np.arange(queries.shape[0])[::-1]
    gt2 = Positives.from_lists([positives[i] for i in perm], database.shape[0])
    facts2 = rank(queries[perm], database, gt2, metric=metric, k=database.shape[0])
    for name in TOPK_METRICS:
        cuts = list(range(1, database.shape[0] + 1))
        assert np.allclose(
            METRICS[name](facts, gt, None, cuts, "miss"),
            METRICS[name](facts2, gt2, None, cuts, "miss"),
            atol=1e-12,
        )


@given(problems(), st.sampled_from(TIE_POLICIES), st.sampled_from(["l2", "ip", "cosine"]))
def test_recall_agrees_with_oracle(problem, policy, metric):
    queries, database, positives, _, facts = _setup(problem, metric)
    n = database.shape[0]
    expected = oracle(queries, database, positives, metric, facts.tie_rtol, n)
    for cut in range(1, n + 1):
        want = sum((success(f, cut, policy) for f in expected), Fraction(0)) / len(expected)
        assert recall_at_n(facts, [cut], policy)[cut] == pytest.approx(float(want), abs=1e-12)


def _published_percent_hit(f: dict, percent: str, n: int, convention: str) -> Fraction:
    """Is the query a hit for "top ``percent``%" of ``n`` items, as each published code
    decides it (the rules quoted in docs/metrics.md, with Python's own rounding)? With
    n_better = L and n_tied = T + S - 1 tied items besides the positive."""
    share = Fraction(percent) * n / 100
    if convention == "ceil":  # the project default: ceil(K n / 100), expected ties
        return success(f, math.ceil(share), "expected")
    if f["S"] == 0:
        return Fraction(0)
    pessimistic = f["L"] + f["T"] + 1
    stable = f["L"] + f["B"] + 1  # ascending database index inside the tied block
    if convention == "cvm-net":  # top1_percent = int(n * 0.01) + 1; n_better < top1_percent
        return Fraction(int(f["L"] < int(share) + 1))
    if convention == "safa":  # top = int(n * 0.01); hit when n_better < top
        return Fraction(int(f["L"] < int(share)))
    if convention == "witw":  # the correct item and every tie count against it
        return Fraction(int(pessimistic <= int(share)))
    if convention == "university1652":  # index[:round(n / 100) + 1], argsort order
        return Fraction(int(stable <= round(share) + 1))
    assert convention == "pointnetvlad"  # threshold = max(int(round(n / 100.0)), 1)
    return Fraction(int(stable <= max(round(share), 1)))


@given(
    problems(),
    st.sampled_from(["ceil", "cvm-net", "safa", "witw", "university1652", "pointnetvlad"]),
    st.sampled_from(["0.5", "1", "2.5", "5", "10", "33.3", "50", "100"]),
)
def test_recall_at_percent_agrees_with_published_rules(problem, convention, percent):
    queries, database, positives, _, facts = _setup(problem)
    n = database.shape[0]
    expected = oracle(queries, database, positives, "l2", facts.tie_rtol, n)
    hits = [_published_percent_hit(f, percent, n, convention) for f in expected]
    want = sum(hits, Fraction(0)) / len(expected)
    got = recall_at_percent(facts, [float(percent)], "expected", convention=convention)
    assert next(iter(got.values())) == pytest.approx(float(want), abs=1e-12)


@given(problems(), st.sampled_from(["miss", "exclude"]))
def test_pssr_agrees_with_oracle(problem, rule):
    queries, database, positives, _, facts = _setup(problem)
    assume(rule != "exclude" or any(positives))
    n = database.shape[0]
    expected = oracle(queries, database, positives, "l2", facts.tie_rtol, n)
    values = [
        (n - f["k_count"]) / n if pos else 0.0
        for f, pos in zip(expected, positives, strict=True)
        if pos or rule == "miss"
    ]
    assert pssr(facts, rule).mean == pytest.approx(float(np.mean(values)), abs=1e-12)


@given(problems())
def test_map_and_precision_agree_with_oracle(problem):
    queries, database, positives, gt, facts = _setup(problem)
    n = database.shape[0]
    expected = oracle(queries, database, positives, "l2", facts.tie_rtol, n)
    for k in range(1, n + 1):
        aps, precs = [], []
        for f, pos in zip(expected, positives, strict=True):
            hits, score = 0, 0.0
            for i, j in enumerate(f["topk"][:k]):
                if j in pos:
                    hits += 1
                    score += hits / (i + 1)
            aps.append(score / min(len(pos), k) if pos else 0.0)
            precs.append(hits / k)
        assert map_at_k(facts, gt, [k])[k] == pytest.approx(np.mean(aps), abs=1e-12)
        assert precision_at_k(facts, gt, [k])[k] == pytest.approx(np.mean(precs), abs=1e-12)


@given(st.integers(1, 60), st.integers(1, 8), st.integers(1, 4), st.data())
def test_constant_descriptors_score_chance_level(n, nq, dim, data):
    """All database rows equal: R@N under expected = P(a positive among N random picks)."""
    database = np.ones((n, dim))
    queries = data.draw(st.sampled_from([np.zeros((nq, dim)), np.ones((nq, dim))]))
    positives = [
        sorted(set(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n))))
        for _ in range(nq)
    ]
    facts = rank(queries, database, Positives.from_lists(positives, n), k=1)
    for cut in range(1, n + 1):
        chance = np.mean([1 - math.comb(n - len(p), cut) / math.comb(n, cut) for p in positives])
        assert recall_at_n(facts, [cut])[cut] == pytest.approx(chance, abs=1e-12)
        assert recall_at_n(facts, [cut], "optimistic")[cut] == 1.0
    assert pssr(facts).mean == 0.0


def test_percent_cutoffs_match_the_published_table():
    got = {
        c: percent_cutoff(1, 8884, c) for c in ("ceil", "cvm-net", "safa", "witw", "university1652")
    }
    assert got == {"ceil": 89, "cvm-net": 89, "safa": 88, "witw": 88, "university1652": 90}
    got = [
        percent_cutoff(1, 5000, c) for c in ("ceil", "cvm-net", "safa", "witw", "university1652")
    ]
    assert got == [50, 51, 50, 50, 51]
    assert percent_cutoff(1.1, 1000) == 11  # exact decimal arithmetic, not 11.000000000000002
    assert percent_cutoff(1, 8884, "pointnetvlad") == 89


def test_collapsed_embeddings_reproduce_the_published_tie_gap():
    """5,000 embeddings on 20 distinct vectors: optimistic codes report far more than chance."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(20, 16))
    labels = rng.integers(0, 20, size=5000)
    db = centers[labels].astype(np.float32)
    q = centers[labels].astype(np.float32)
    facts = rank(q, db, Positives.one_to_one(5000), k=1)
    opt = recall_at_percent(facts, [1], convention="cvm-net")[1]
    exp = recall_at_percent(facts, [1])[1]
    pes = recall_at_percent(facts, [1], convention="witw")[1]
    assert opt == 1.0 and pes == 0.0
    assert 0.15 < exp < 0.25  # ~ ceil(50) / ~250 items per collapsed vector


def test_bootstrap_interval_covers_the_mean_and_is_reproducible():
    from vprmetrics.metrics.intervals import bootstrap_interval, interval_method

    rng = np.random.default_rng(0)
    for m in (40, 6000):
        values = (rng.random((m, 2)) < [0.3, 0.8]).astype(float)
        lo, hi = bootstrap_interval(values, seed=1)
        mean = values.mean(axis=0)
        assert np.all(lo <= mean) and np.all(mean <= hi)
        assert np.all(hi - lo < 4.5 * np.sqrt(mean * (1 - mean) / m))  # ~ 2 x 1.96 sigma
        assert np.array_equal(bootstrap_interval(values, seed=1)[0], lo)
    assert (interval_method(5000), interval_method(5001)) == ("BCa", "percentile")
    assert bootstrap_interval(np.ones((10, 1)))[0].tolist() == [1.0]
