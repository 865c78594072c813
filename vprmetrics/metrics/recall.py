"""Recall@N and Recall@K%, with explicit tie policies and published cut-off conventions.

Recall@N = mean over scored queries of P(r_q <= N) (:mod:`vprmetrics.metrics.ties`). Which queries
are scored is the no-positive rule (:func:`vprmetrics.geo.positives.scored_queries`): under
``miss`` a query without positives counts as a failure, under ``exclude`` it is left out.

Recall@K% is Recall@N with ``N = cutoff(K, n)`` for a database of n items. The project
default is ``ceil(K n / 100)`` with the chosen tie policy. Published cross-view code uses
other cut-offs and tie rules; each is a named convention that reproduces it exactly
(docs/metrics.md lists each rule with the paper and code it comes from). K is read as a
decimal (``0.1`` is exactly one tenth), so ``K n / 100`` is computed exactly.

>>> from vprmetrics.geo.positives import Positives
>>> from vprmetrics.ranking.engine import rank
>>> db = np.array([[0.0], [1.0], [2.0], [3.0]]); q = np.array([[1.2], [2.9]])
>>> facts = rank(q, db, Positives.from_lists([[2], [3]], 4), k=2)
>>> recall_at_n(facts, [1, 2])
{1: 0.5, 2: 1.0}
>>> [percent_cutoff(1, 8884, c) for c in ("ceil", "cvm-net", "safa", "witw", "university1652")]
[89, 89, 88, 88, 90]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from vprmetrics.checks import as_cutoffs, as_percentages
from vprmetrics.errors import InputError
from vprmetrics.geo.positives import scored_by_rule
from vprmetrics.metrics.ties import check_policy, success_probability
from vprmetrics.ranking.facts import RankingFacts

__all__ = [
    "PERCENT_CONVENTIONS",
    "PercentConvention",
    "per_query_success",
    "percent_cutoff",
    "percent_cutoffs",
    "percent_policy",
    "percent_tie_bounds",
    "recall_at_n",
    "recall_at_percent",
    "scored_mask",
    "tie_bounds",
]


@dataclass(frozen=True)
class PercentConvention:
    """How a codebase turns "top K%" into a cut-off N, and which way its ties go."""

    name: str
    cutoff: Callable[[Fraction], int]
    ties: str | None  # None: the caller's policy
    code: str


def _round_half_even(x: Fraction) -> int:
    return round(x)  # Python rounds Fractions half to even, like round() on floats


PERCENT_CONVENTIONS: dict[str, PercentConvention] = {
    c.name: c
    for c in (
        PercentConvention("ceil", math.ceil, None, "project default: ceil(K n / 100)"),
        PercentConvention(
            "cvm-net",
            lambda x: math.floor(x) + 1,
            "optimistic",
            "CVM-Net, OriCNN, VIGOR R@1%, DSM cal_FOV_acc: floor(K n / 100) + 1, optimistic",
        ),
        PercentConvention(
            "safa",
            math.floor,
            "optimistic",
            "SAFA, DSM, L2LTR, GeoDTR, TransGeo, Sample4Geo: floor(K n / 100), optimistic",
        ),
        PercentConvention(
            "witw", math.floor, "pessimistic", "Where In The World: floor(K n / 100), pessimistic"
        ),
        PercentConvention(
            "university1652",
            lambda x: _round_half_even(x) + 1,
            "stable",
            "University-1652: round-half-even(K n / 100) + 1; its unstable argsort is "
            "replaced by the reproducible stable order",
        ),
        PercentConvention(
            "pointnetvlad",
            lambda x: max(_round_half_even(x), 1),
            "stable",
            "PointNetVLAD family: max(round(K n / 100), 1); KD-tree order replaced by stable",
        ),
    )
}


def percent_cutoff(percent: float, n_database: int, convention: str = "ceil") -> int:
    """The N that ``convention`` uses for "top ``percent``%" of ``n_database`` items."""
    if convention not in PERCENT_CONVENTIONS:
        raise InputError(
            f"Recall@K% convention {convention!r} is unknown; use one of "
            f"{', '.join(PERCENT_CONVENTIONS)}"
        )
    exact = Fraction(str(percent)) * n_database / 100
    return int(PERCENT_CONVENTIONS[convention].cutoff(exact))


def scored_mask(facts: RankingFacts, no_positive: str = "miss") -> np.ndarray:
    """Queries in the denominator: all (``miss``) or those with positives (``exclude``);
    ``error`` raises naming the first query without a positive."""
    mask = scored_by_rule(facts.has_positive, no_positive)
    if not mask.any():
        raise InputError("no query can be scored; check the ground truth and the radius")
    return mask


def per_query_success(facts: RankingFacts, cutoffs: Sequence[int], ties: str) -> np.ndarray:
    """(n_queries, len(cutoffs)) matrix of P(r_q <= N) under the tie policy ``ties``."""
    return success_probability(
        facts.closer,
        facts.tied_negatives,
        facts.tied_positives,
        facts.tied_negatives_before,
        cutoffs,
        ties,
    )


def recall_at_n(
    facts: RankingFacts,
    ns: Sequence[int] | int = (1, 5, 10, 20),
    ties: str = "expected",
    no_positive: str = "miss",
) -> dict[int, float]:
    """Recall@N for each N (sorted, deduplicated): mean of P(r_q <= N) over scored queries."""
    check_policy(ties)
    ns = as_cutoffs(ns, "N")
    mask = scored_mask(facts, no_positive)
    values = per_query_success(facts, ns, ties)[mask].mean(axis=0)
    return {n: float(v) for n, v in zip(ns, values, strict=True)}


def percent_cutoffs(percents, n_database: int, convention: str = "ceil") -> list[int]:
    """The cut-off N of each K (sorted, deduplicated K) under ``convention``."""
    return [percent_cutoff(k, n_database, convention) for k in as_percentages(percents, "K")]


def _percent_recall(facts, percents, policy, no_positive, convention) -> dict[float, float]:
    ks = as_percentages(percents, "K")
    cutoffs = percent_cutoffs(ks, facts.n_database, convention)
    mask = scored_mask(facts, no_positive)
    values = per_query_success(facts, cutoffs, policy)[mask].mean(axis=0)
    return {k: float(v) for k, v in zip(ks, values, strict=True)}


def percent_policy(convention: str, ties: str) -> str:
    """The tie policy Recall@K% uses: the convention's own, else ``ties``."""
    if convention not in PERCENT_CONVENTIONS:
        raise InputError(
            f"Recall@K% convention {convention!r} is unknown; use one of "
            f"{', '.join(PERCENT_CONVENTIONS)}"
        )
    return PERCENT_CONVENTIONS[convention].ties or check_policy(ties)


def recall_at_percent(
    facts: RankingFacts,
    percents: Sequence[float] | float = (1,),
    ties: str = "expected",
    no_positive: str = "miss",
    convention: str = "ceil",
) -> dict[float, float]:
    """Recall@K% for each K: Recall@N with N = ``percent_cutoff(K, n, convention)``.

    A convention that fixes its tie rule (all but ``ceil``) uses that rule, not ``ties``.
    """
    check_policy(ties)
    return _percent_recall(
        facts, percents, percent_policy(convention, ties), no_positive, convention
    )


def tie_bounds(
    facts: RankingFacts, ns: Sequence[int] | int, no_positive: str = "miss"
) -> dict[int, dict[str, float]]:
    """For each N: Recall@N under ``optimistic`` and ``pessimistic`` ties, and their gap.

    A gap above zero means ties decide part of the number.
    """
    ns = as_cutoffs(ns, "N")
    opt = recall_at_n(facts, ns, "optimistic", no_positive)
    pes = recall_at_n(facts, ns, "pessimistic", no_positive)
    return {n: {"optimistic": opt[n], "pessimistic": pes[n], "gap": opt[n] - pes[n]} for n in ns}


def percent_tie_bounds(
    facts: RankingFacts,
    percents: Sequence[float] | float,
    no_positive: str = "miss",
    convention: str = "ceil",
) -> dict[float, dict[str, float]]:
    """:func:`tie_bounds` of Recall@K% with the cut-offs of ``convention``."""
    opt = _percent_recall(facts, percents, "optimistic", no_positive, convention)
    pes = _percent_recall(facts, percents, "pessimistic", no_positive, convention)
    return {k: {"optimistic": opt[k], "pessimistic": pes[k], "gap": opt[k] - pes[k]} for k in opt}
