"""evaluate_facts reports exactly what the public metric functions return."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.strategies import problems
from vprmetrics import Positives
from vprmetrics.metrics.intervals import bootstrap_interval
from vprmetrics.metrics.pssr import pssr
from vprmetrics.metrics.recall import (
    per_query_success,
    percent_tie_bounds,
    recall_at_n,
    recall_at_percent,
    tie_bounds,
)
from vprmetrics.metrics.retrieval import map_at_k, precision_at_k
from vprmetrics.ranking.engine import rank
from vprmetrics.report.evaluation import EvaluationSettings, evaluate_facts


def _str(d: dict) -> dict:
    return {(str(int(k)) if float(k) == int(k) else str(k)): v for k, v in d.items()}


@settings(max_examples=25, deadline=None)
@given(
    problems(allow_empty_positives=False),
    st.sampled_from(["expected", "optimistic", "pessimistic", "stable"]),
    st.sampled_from(["ceil", "cvm-net", "safa", "witw", "university1652", "pointnetvlad"]),
)
def test_report_equals_the_public_functions(problem, ties, convention):
    queries, database, positives = problem
    n = database.shape[0]
    gt = Positives.from_lists(positives, n)
    facts = rank(queries, database, gt, k=n)
    ns, ks, maps = [1, n], [50, 100], [1, n]
    s = EvaluationSettings(
        ties=ties, recall_at=ns, recall_at_percent=ks, percent_convention=convention,
        map_at=maps, n_resamples=50,
    )  # fmt: skip
    r = evaluate_facts(facts, gt, s).report
    ns, maps = sorted(set(ns)), sorted(set(maps))
    assert r["recall_at_n"] == _str(recall_at_n(facts, ns, ties))
    assert r["recall_at_percent"] == _str(recall_at_percent(facts, ks, ties, convention=convention))
    assert r["tie_bounds"]["recall_at_n"] == _str(tie_bounds(facts, ns))
    assert r["tie_bounds"]["recall_at_percent"] == _str(
        percent_tie_bounds(facts, ks, convention=convention)
    )
    assert r["map_at_k"] == _str(map_at_k(facts, gt, maps))
    assert r["precision_at_k"] == _str(precision_at_k(facts, gt, maps))
    ps = pssr(facts)
    assert (r["pssr"]["mean"], r["pssr"]["median"]) == (ps.mean, ps.median)
    assert r["pssr"]["histogram"]["counts"] == ps.histogram_counts.tolist()
    lo, hi = bootstrap_interval(per_query_success(facts, ns, ties), n_resamples=50)
    assert r["confidence_intervals"]["recall_at_n"] == {
        str(k): [a, b] for k, a, b in zip(ns, lo.tolist(), hi.tolist(), strict=True)
    }


def test_interval_of_one_recall_does_not_depend_on_the_others():
    rng = np.random.default_rng(0)
    db = rng.normal(size=(200, 8))
    q = db[:120] + 0.8 * rng.normal(size=(120, 8))
    gt = Positives.from_lists([[i] for i in range(120)], 200)
    facts = rank(q, db, gt, k=5)
    one = evaluate_facts(facts, gt, EvaluationSettings(recall_at=[5], map_at=[5])).report
    two = evaluate_facts(facts, gt, EvaluationSettings(recall_at=[1, 5], map_at=[5])).report
    ci1, ci2 = one["confidence_intervals"], two["confidence_intervals"]
    assert ci1["recall_at_n"]["5"] == ci2["recall_at_n"]["5"]
