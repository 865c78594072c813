"""Ranked-list metrics of the top-k: precision@k and mAP@k (MSLS-style).

Both read the exact top-k list of :class:`~vprmetrics.ranking.facts.RankingFacts`, in which items
whose distances tie are ordered by ascending database index (a fixed, reproducible order;
these metrics have no tie policy).

* ``precision@k = (1/k) sum_{i<=k} rel_i``
* ``AP@k = (1 / min(|P|, k)) sum_{i<=k} rel_i * precision@i`` (the ``apk`` of the MSLS
  evaluation), and ``mAP@k`` is its mean over scored queries.

``rel_i`` is 1 when the i-th retrieved item is a positive. A query without positives
scores 0 under ``miss`` and is left out under ``exclude``.

>>> from vprmetrics.geo.positives import Positives
>>> from vprmetrics.ranking.engine import rank
>>> db = np.array([[0.0], [1.0], [2.0], [3.0]]); q = np.array([[0.1]])
>>> gt = Positives.from_lists([[0, 2]], 4)
>>> facts = rank(q, db, gt, k=3)
>>> precision_at_k(facts, gt, [1, 3]), map_at_k(facts, gt, [3])
({1: 1.0, 3: 0.6666666666666666}, {3: 0.8333333333333333})
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vprmetrics.checks import as_cutoffs
from vprmetrics.errors import InputError
from vprmetrics.geo.positives import Positives
from vprmetrics.metrics.recall import scored_mask
from vprmetrics.ranking.facts import RankingFacts

__all__ = [
    "average_precision_per_query",
    "map_at_k",
    "precision_at_k",
    "precision_per_query",
    "relevance",
]


def relevance(facts: RankingFacts, positives: Positives) -> np.ndarray:
    """(n_queries, k) booleans: is the i-th retrieved item a positive?"""
    if positives.n_queries != facts.n_queries:
        raise InputError(
            f"ground truth has {positives.n_queries} queries but the facts have "
            f"{facts.n_queries}; use the ground truth the facts were ranked with"
        )
    q = np.repeat(np.arange(facts.n_queries), facts.k)
    ids = facts.topk_ids.ravel()
    rel = positives.contains(q, np.maximum(ids, 0)) & (ids >= 0)
    return rel.reshape(facts.n_queries, facts.k)


def _check_k(ks: list[int], facts: RankingFacts) -> None:
    if ks[-1] > facts.k:
        raise InputError(
            f"k = {ks[-1]} exceeds the ranked top-k ({facts.k}); rank with k >= {ks[-1]}"
        )


def precision_at_k(
    facts: RankingFacts, positives: Positives, ks: Sequence[int] | int, no_positive: str = "miss"
) -> dict[int, float]:
    """Mean over scored queries of the share of positives among the first k retrieved."""
    ks = as_cutoffs(ks, "k")
    _check_k(ks, facts)
    mask = scored_mask(facts, no_positive)
    return {k: float(precision_per_query(facts, positives, k)[mask].mean()) for k in ks}


def precision_per_query(facts: RankingFacts, positives: Positives, k: int) -> np.ndarray:
    """``precision@k`` of every query (0 for a query without positives)."""
    return relevance(facts, positives)[:, :k].sum(axis=1) / k


def average_precision_per_query(facts: RankingFacts, positives: Positives, k: int) -> np.ndarray:
    """``AP@k`` of every query (0 for a query without positives)."""
    rel = relevance(facts, positives)[:, :k].astype(np.float64)
    precision = np.cumsum(rel, axis=1) / np.arange(1, k + 1)
    denom = np.minimum(positives.counts, k)
    ap = (rel * precision).sum(axis=1)
    return np.divide(ap, denom, out=np.zeros_like(ap), where=denom > 0)


def map_at_k(
    facts: RankingFacts, positives: Positives, ks: Sequence[int] | int, no_positive: str = "miss"
) -> dict[int, float]:
    """mAP@k: mean over scored queries of ``AP@k``."""
    ks = as_cutoffs(ks, "k")
    _check_k(ks, facts)
    mask = scored_mask(facts, no_positive)
    return {k: float(average_precision_per_query(facts, positives, k)[mask].mean()) for k in ks}
