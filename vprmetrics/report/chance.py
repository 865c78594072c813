"""Chance level: the Recall@N of a ranking drawn uniformly at random.

For a query with ``p`` positives among ``n`` database items, a random top-N holds no
positive with the hypergeometric probability ``C(n - p, N) / C(n, N)``, so

    chance R@N = mean over scored queries of  1 - C(n - p_q, N) / C(n, N)

(0 for a query without positives). This is exactly what a constant descriptor scores
under the ``expected`` tie policy, where every database item ties (L = 0 closer,
T = n - p tied negatives, S = p tied positives), so it is computed by that policy's
:func:`vprmetrics.metrics.ties.success_probability`, once per distinct ``p``.

>>> import numpy as np
>>> chance_recall(np.array([1, 2]), 4, [1, 2])   # (1/4 + 1/2) / 2, (1/2 + 5/6) / 2
[0.375, 0.6666666666666667]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vprmetrics.metrics.ties import success_probability

__all__ = ["chance_recall"]


def chance_recall(n_positives: np.ndarray, n_database: int, cutoffs: Sequence[int]) -> list[float]:
    """Chance Recall@N for each N of ``cutoffs`` over queries with ``n_positives``."""
    p = np.asarray(n_positives, dtype=np.int64)
    if p.size == 0:
        return [float("nan")] * len(cutoffs)
    ns = np.minimum(np.asarray(cutoffs, dtype=np.int64), n_database)
    counts, per_query = np.unique(p, return_inverse=True)
    zero = np.zeros(counts.size, dtype=np.int64)
    hit = success_probability(zero, n_database - counts, counts, zero, ns, "expected")
    weights = np.bincount(per_query.ravel(), minlength=counts.size) / p.size
    return [float(v) for v in weights @ hit]
