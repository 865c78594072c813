"""Bootstrap confidence intervals over queries (scipy.stats.bootstrap).

Every scalar metric here is a mean of per-query values (a success probability, a PSSR,
an AP), so its interval comes from resampling queries with replacement, with a fixed seed
(reproducible run to run). Up to :data:`BCA_MAX_QUERIES` queries the interval is BCa; above
that, scipy's BCa jackknife (quadratic in the number of queries: 28 s at 8,884 queries)
is replaced by the percentile interval, which for a mean over thousands of queries agrees
with BCa to well under the resampling noise. :func:`interval_method` says which one a
given number of queries gets. A metric whose per-query values are all equal has the
degenerate interval ``[v, v]``.

>>> lo, hi = bootstrap_interval(np.array([[0.0], [1.0], [1.0], [1.0]] * 10), seed=0)
>>> bool(lo[0] < 0.75 < hi[0])
True
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["BCA_MAX_QUERIES", "bootstrap_interval", "interval_method"]

BCA_MAX_QUERIES = 5000


def interval_method(n_queries: int) -> str:
    """``"BCa"`` up to :data:`BCA_MAX_QUERIES` queries, ``"percentile"`` above."""
    return "BCa" if n_queries <= BCA_MAX_QUERIES else "percentile"


def bootstrap_interval(
    values: np.ndarray,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    method: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Intervals for the mean of each column of ``values`` (rows are queries).

    Each column is bootstrapped on its own with a generator seeded by ``seed``, so a
    metric's interval depends only on its own per-query values and the seed, never on
    which other metrics were asked for.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    method = method or interval_method(values.shape[0])
    low = values.mean(axis=0).copy()
    high = low.copy()
    varying = np.ptp(values, axis=0) > 0 if values.shape[0] else np.zeros(values.shape[1], bool)
    if values.shape[0] < 2:
        return low, high
    from scipy import stats  # lazily: 0.3 s of every start

    for col in np.flatnonzero(varying):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=stats.DegenerateDataWarning)
            res = stats.bootstrap(
                (values[:, col],),
                np.mean,
                confidence_level=confidence,
                n_resamples=n_resamples,
                method=method,
                rng=np.random.default_rng(seed),
            )
        low[col] = res.confidence_interval.low
        high[col] = res.confidence_interval.high
    return low, high
