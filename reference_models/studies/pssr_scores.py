r"""The numbers of the PSSR study, all through ``vprmetrics`` (numpy + scipy, no torch).

For one set of cross-view descriptors (ground queries, aerial database, pair i = query i
and database item i) :func:`score_descriptors` reports

* R@1% under each named convention of :data:`vprmetrics.metrics.recall.PERCENT_CONVENTIONS`
  with its own tie rule (``ceil``: ``expected``), and the grid of every convention's
  cut-off under every tie policy of :data:`vprmetrics.metrics.ties.TIE_POLICIES`;
* R@1/5/10 (``expected`` ties);
* PSSR (Debnath et al.): mean, median, the 20-bin histogram and the search-space fraction
  needed for recall 0.5, 0.6, ..., 1.0 (:func:`vprmetrics.metrics.pssr.pssr`).

:func:`constructed_embeddings` builds the study's synthetic cases: ``collapsed`` (every
aerial descriptor identical), ``few-cluster`` (aerial descriptors quantised onto 20
vectors), ``random`` and ``matched`` (ground = aerial + small noise: a good model).
:func:`tree_search` evaluates the k-means search tree as a search-space reduction beside
exhaustive search.

>>> g, a = constructed_embeddings("collapsed", 500, seed=0)
>>> s = score_descriptors(g, a)
>>> s["r_at_1pct"]["cvm-net"], round(s["r_at_1pct"]["ceil"], 3), s["pssr"]["mean"]
(1.0, 0.01, 0.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vprmetrics.geo.positives import Positives
from vprmetrics.metrics.pssr import pssr
from vprmetrics.metrics.recall import (
    PERCENT_CONVENTIONS,
    per_query_success,
    percent_cutoff,
    recall_at_n,
    recall_at_percent,
    scored_mask,
)
from vprmetrics.metrics.ties import TIE_POLICIES
from vprmetrics.ranking.engine import rank
from vprmetrics.ranking.facts import RankingFacts

__all__ = [
    "CONSTRUCTED",
    "RECALL_TARGETS",
    "constructed_embeddings",
    "crossview_facts",
    "score_descriptors",
    "score_facts",
    "tree_search",
]

#: Recall targets of the search-space fractions.
RECALL_TARGETS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: The constructed embeddings, in table order.
CONSTRUCTED: tuple[str, ...] = ("collapsed", "few-cluster", "random", "matched")


def constructed_embeddings(
    kind: str, n: int, *, dim: int = 16, clusters: int = 20, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(ground, aerial) float32 unit descriptors of ``n`` pairs of kind ``kind``.

    * ``collapsed``: aerial all equal to one vector, ground random: every query ties all n
      items.
    * ``few-cluster``: aerial = one of ``clusters`` random unit vectors (pair i in cluster
      i mod clusters); ground = its pair's vector plus noise (sd 0.3 per coordinate), so the
      nearest vector is usually its own cluster's and the match ties n / clusters items.
    * ``random``: independent Gaussian ground and aerial: chance.
    * ``matched``: aerial random, ground = aerial + noise (sd 0.05): near-perfect.
    """
    rng = np.random.default_rng(seed)

    def unit(x: np.ndarray) -> np.ndarray:
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    ground = unit(rng.standard_normal((n, dim)))
    if kind == "collapsed":
        aerial = np.repeat(unit(rng.standard_normal((1, dim))), n, axis=0)
    elif kind == "few-cluster":
        centres = unit(rng.standard_normal((clusters, dim)))
        aerial = centres[np.arange(n) % clusters]
        ground = unit(aerial + 0.3 * rng.standard_normal((n, dim)))
    elif kind == "random":
        aerial = unit(rng.standard_normal((n, dim)))
    elif kind == "matched":
        aerial = unit(rng.standard_normal((n, dim)))
        ground = unit(aerial + 0.05 * rng.standard_normal((n, dim)))
    else:
        raise ValueError(f"unknown constructed embedding {kind!r}: use one of {CONSTRUCTED}")
    return ground, aerial


def crossview_facts(ground: np.ndarray, aerial: np.ndarray, k: int = 1) -> RankingFacts:
    """Exact ranking facts of ground queries against the aerial database (pair i = i);
    Recall@N and PSSR need only its counts, so the top-k list is kept short."""
    n = aerial.shape[0]
    return rank(ground, aerial, Positives.one_to_one(ground.shape[0], n), metric="l2", k=k)


def score_facts(facts: RankingFacts) -> dict[str, Any]:
    """R@1% (conventions, grid), R@1/5/10 and PSSR of ``facts`` (module docstring)."""
    n = facts.n_database
    named = {
        name: recall_at_percent(facts, [1], ties="expected", convention=name)[1.0]
        for name in PERCENT_CONVENTIONS
    }
    scored = scored_mask(facts)
    grid = {  # a cut-off of 0 (floor rules, n < 100) is allowed: no query succeeds
        name: {
            policy: float(
                per_query_success(facts, [percent_cutoff(1, n, name)], policy)[scored].mean()
            )
            for policy in TIE_POLICIES
        }
        for name in PERCENT_CONVENTIONS
    }
    summary = pssr(facts, targets=RECALL_TARGETS)
    return {
        "n": n,
        "cutoffs": {name: percent_cutoff(1, n, name) for name in PERCENT_CONVENTIONS},
        "r_at_1pct": named,
        "r_at_1pct_grid": grid,
        "recall": {str(k): v for k, v in recall_at_n(facts, [1, 5, 10]).items()},
        "pssr": {
            "mean": summary.mean,
            "median": summary.median,
            "histogram": summary.histogram_counts.tolist(),
            "fraction_for_recall": {str(k): v for k, v in summary.fraction_for_recall.items()},
        },
    }


def score_descriptors(ground: np.ndarray, aerial: np.ndarray) -> dict[str, Any]:
    """:func:`score_facts` of ground queries against the aerial database."""
    return score_facts(crossview_facts(ground, aerial))


def tree_search(
    ground: np.ndarray,
    aerial: np.ndarray,
    *,
    k: int = 4,
    leaf_sizes: tuple[int, ...] = (),
    seed: int = 0,
) -> list[dict[str, float]]:
    """The k-means search tree over the aerial database against exhaustive search.

    For each leaf size: the mean share of the database a query scans (its leaf's items plus
    the centroids compared on the way down, over n), the recall of the search (the true
    match is in the leaf reached, i.e. exact search inside it finds it at some rank) and
    R@1 (it is the nearest item of the leaf; ``vprmetrics`` facts per leaf), beside the
    recall exhaustive search reaches scanning the same share of its ranking
    (``recall_at_n`` at N = share x n). A leaf of n items is exhaustive search.
    """
    from reference_models.training.kmeans_tree import KMeansTree

    n = aerial.shape[0]
    sizes = leaf_sizes or (n, max(1, n // 4), max(1, n // 16), max(1, n // 64))
    full = crossview_facts(ground, aerial, k=1)
    out = []
    for leaf_size in sizes:
        tree = KMeansTree(aerial, k=k, leaf_size=leaf_size, seed=seed)
        leaf_of = np.empty(n, dtype=np.int64)
        leaves = tree.leaves()
        for index, rows in enumerate(leaves):
            leaf_of[rows] = index
        reached = np.array([leaf_of[tree.search(q)[0]] for q in ground])
        scanned = np.array([leaves[i].size for i in reached], dtype=np.float64)
        comparisons = tree.depth() * k
        found = reached == leaf_of[np.arange(ground.shape[0])]
        r1 = 0.0
        for index in np.unique(reached):
            queries = np.flatnonzero(reached == index)
            rows = leaves[index]
            local = {int(r): j for j, r in enumerate(rows)}
            lists = [[local[q]] if q in local else [] for q in queries.tolist()]
            facts = rank(
                ground[queries],
                aerial[rows],
                Positives.from_lists(lists, rows.size),
                metric="l2",
                k=1,
            )
            r1 += recall_at_n(facts, [1], no_positive="miss")[1] * queries.size
        share = float(np.mean((scanned + comparisons) / n))
        budget = max(1, min(n, round(share * n)))
        out.append(
            {
                "leaf_size": int(leaf_size),
                "leaves": len(leaves),
                "depth": tree.depth(),
                "share_searched": share,
                "recall_in_leaf": float(found.mean()),
                "r_at_1": r1 / ground.shape[0],
                "exhaustive_recall_same_share": recall_at_n(full, [budget])[budget],
                "exhaustive_r_at_1": recall_at_n(full, [1])[1],
            }
        )
    return out
