"""Chance level: the Recall@N of a ranking drawn uniformly at random.

For a query with ``p`` positives among ``n`` database items, a random top-N holds no
positive with the hypergeometric probability ``C(n - p, N) / C(n, N)``, so

    chance R@N = mean over scored queries of  1 - C(n - p_q, N) / C(n, N)

(0 for a query without positives). This is also what a constant descriptor scores
under the ``expected`` tie policy, where every database item ties.

>>> import numpy as np
>>> chance_recall(np.array([1, 2]), 4, [1, 2])   # (1/4 + 1/2) / 2, (1/2 + 5/6) / 2
[0.375, 0.6666666666666667]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import hypergeom

__all__ = ["chance_recall"]


def chance_recall(n_positives: np.ndarray, n_database: int, cutoffs: Sequence[int]) -> list[float]:
    """Chance Recall@N for each N of ``cutoffs`` over queries with ``n_positives``."""
    p = np.asarray(n_positives, dtype=np.int64)[:, None]
    ns = np.minimum(np.asarray(cutoffs, dtype=np.int64), n_database)[None, :]
    miss = hypergeom.pmf(0, n_database, p, ns)  # P(no positive among N random items)
    return [float(v) for v in (1.0 - miss).mean(axis=0)]
