"""PSSR: Proportional Search Space Reduction (Debnath et al.).

Per query ``PSSR_q = (n - k_q) / n`` with ``k_q = #{j : d_j <= d*}``: the share of the
database a searcher can skip when scanning the ranking until the best positive; the best
positive itself counts, and items tied with it count against the model
(``k_q = L + T + S``). A query without positives has PSSR 0 under ``miss`` (the whole
database is searched in vain) and is left out under ``exclude``.

The search-space fraction needed for recall ``rho`` is the smallest ``f`` such that at
least a share ``rho`` of the scored queries have ``k_q / n <= f`` (the ``ceil(rho m)``-th
smallest ``k_q / n``); ``None`` when no fraction reaches it (queries without positives).

Citation: Debnath et al., "Proportional Search Space Reduction", the metric this module
implements as the paper's formula (its public code returns ``k / n`` instead).

>>> from vprmetrics.geo.positives import Positives
>>> from vprmetrics.ranking.engine import rank
>>> db = np.array([[0.0], [1.0], [2.0], [3.0]]); q = np.array([[1.2], [2.9]])
>>> s = pssr(rank(q, db, Positives.from_lists([[2], [3]], 4), k=1))
>>> s.per_query.tolist(), s.mean, s.fraction_for_recall[1.0]
([0.5, 0.75], 0.625, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vprmetrics.errors import InputError
from vprmetrics.metrics.recall import scored_mask
from vprmetrics.ranking.facts import RankingFacts

__all__ = [
    "DEFAULT_RECALL_TARGETS",
    "PSSRSummary",
    "pssr",
    "pssr_histogram",
    "pssr_per_query",
    "search_fraction",
]

DEFAULT_RECALL_TARGETS: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99, 1.0)


@dataclass(frozen=True)
class PSSRSummary:
    """PSSR of the scored queries: values, mean, median, histogram and fractions."""

    per_query: np.ndarray
    mean: float
    median: float
    histogram_edges: np.ndarray
    histogram_counts: np.ndarray
    fraction_for_recall: dict[float, float | None]


def pssr_per_query(facts: RankingFacts) -> np.ndarray:
    """``(n - k_q) / n`` for every query; 0 for a query without positives."""
    n = facts.n_database
    value = (n - facts.n_at_or_before_best) / n
    return np.where(facts.has_positive, value, 0.0)


def pssr_histogram(
    facts: RankingFacts, mask: np.ndarray, bins: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """(counts, edges) of PSSR over the queries in ``mask``, with exact edges ``i / bins``.

    >>> from vprmetrics.ranking.facts import RankingFacts
    >>> z = np.zeros(1, int)  # k_q = L + T + S = 16 + 0 + 1 of n = 20: PSSR = 3/20
    >>> f = RankingFacts(np.zeros(1), z + 16, z, z + 1, z, z + 1, z[:, None], z[:, None], 20)
    >>> int(np.flatnonzero(pssr_histogram(f, np.ones(1, bool))[0])[0])
    3
    """
    if isinstance(bins, bool) or int(bins) != bins or bins < 1:
        raise InputError(f"bins = {bins!r} must be a positive integer, e.g. 20")
    n = facts.n_database
    skipped = np.where(facts.has_positive, n - facts.n_at_or_before_best, 0)[mask]
    index = np.minimum(skipped.astype(np.int64) * bins // n, bins - 1)
    counts = np.bincount(index, minlength=bins)
    return counts, np.arange(bins + 1) / bins


def search_fraction(
    facts: RankingFacts,
    targets: Sequence[float] = DEFAULT_RECALL_TARGETS,
    no_positive: str = "miss",
) -> dict[float, float | None]:
    """The search-space fraction ``k_q / n`` needed to reach each recall target."""
    mask = scored_mask(facts, no_positive)
    needed = np.where(facts.has_positive, facts.n_at_or_before_best / facts.n_database, np.inf)
    ordered = np.sort(needed[mask])
    out: dict[float, float | None] = {}
    for rho in sorted({float(t) for t in targets}):
        if not 0 < rho <= 1:
            raise InputError(f"recall target {rho} must be in (0, 1]; use values like 0.9, 1.0")
        value = ordered[max(0, math.ceil(rho * ordered.size) - 1)]
        out[rho] = float(value) if np.isfinite(value) else None
    return out


def pssr(
    facts: RankingFacts,
    no_positive: str = "miss",
    bins: int = 20,
    targets: Sequence[float] = DEFAULT_RECALL_TARGETS,
) -> PSSRSummary:
    """PSSR of the scored queries with its histogram on [0, 1] and search fractions.

    Bin ``i`` holds ``i / bins <= PSSR_q < (i + 1) / bins`` (the last bin also 1), decided
    exactly in integers: ``i = floor(bins (n - k_q) / n)``, so a value on an edge lands in
    the bin it opens.
    """
    mask = scored_mask(facts, no_positive)
    values = pssr_per_query(facts)[mask]
    counts, edges = pssr_histogram(facts, mask, bins)
    return PSSRSummary(
        per_query=values,
        mean=float(values.mean()),
        median=float(np.median(values)),
        histogram_edges=edges,
        histogram_counts=counts,
        fraction_for_recall=search_fraction(facts, targets, no_positive),
    )
