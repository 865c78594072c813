"""Bootstrap confidence intervals over queries (scipy.stats.bootstrap).

Every scalar metric here is a mean of per-query values (a success probability, a PSSR,
an AP), so its interval comes from resampling queries with replacement: BCa intervals
with a fixed seed, reproducible run to run. A metric whose per-query values are all equal
has the degenerate interval ``[v, v]``.

>>> lo, hi = bootstrap_interval(np.array([[0.0], [1.0], [1.0], [1.0]] * 10), seed=0)
>>> bool(lo[0] < 0.75 < hi[0])
True
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

__all__ = ["bootstrap_interval"]


def bootstrap_interval(
    values: np.ndarray,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    method: str = "BCa",
) -> tuple[np.ndarray, np.ndarray]:
    """Intervals for the mean of each column of ``values`` (rows are queries)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    low = values.mean(axis=0).copy()
    high = low.copy()
    varying = np.ptp(values, axis=0) > 0 if values.shape[0] else np.zeros(values.shape[1], bool)
    if values.shape[0] > 1 and varying.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=stats.DegenerateDataWarning)
            res = stats.bootstrap(
                (values[:, varying],),
                np.mean,
                axis=0,
                confidence_level=confidence,
                n_resamples=n_resamples,
                method=method,
                rng=np.random.default_rng(seed),
            )
        low[varying] = res.confidence_interval.low
        high[varying] = res.confidence_interval.high
    return low, high
