"""Paired comparisons on the same queries, Holm-Bonferroni, and ranks that mean something.

Two submissions scored on the same queries give per-query values ``a_q`` and ``b_q``
(success probabilities under ``expected`` ties, so not 0/1). The difference of their
means is ``mean(d)`` with ``d_q = a_q - b_q``.

* Its interval: the bootstrap over queries of ``mean(d)`` (the paired bootstrap), as
  every interval of the report (:func:`vprmetrics.metrics.intervals.bootstrap_interval`).
* Its p-value: the two-sided sign-flip permutation test (:func:`sign_flip_p_value`:
  under H0 the two values of a query are exchangeable, so each ``d_q`` keeps or flips
  its sign). The random signs come from a seed and the two submissions' hashes, so a
  comparison gives the same p whatever else is on the board and in whichever order the
  two are named.
* Holm-Bonferroni (Holm 1979), the step-down: sort the m p-values
  ``p_(1) <= ... <= p_(m)``; the adjusted ``p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``;
  reject where ``p~ <= alpha``. It controls the family-wise error rate at alpha.
* Rank: ``rank_i = 1 + #{j : j is significantly better than i}`` on the sort metric, over
  the family of all pairwise comparisons the table shows; entries no test separates
  share a rank.

>>> holm([0.01, 0.04, 0.03]).round(4).tolist()
[0.03, 0.06, 0.06]
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from vprmetrics.errors import InputError
from vprmetrics.metrics.intervals import bootstrap_interval

__all__ = ["Comparison", "holm", "paired_test", "ranks", "seed_for", "sign_flip_p_value"]

_BATCH_ELEMENTS = 1 << 23  # permutations x queries held at once (64 MiB of float64)


@dataclass(frozen=True)
class Comparison:
    """``a`` against ``b`` on one metric: ``difference = mean(a) - mean(b)``."""

    difference: float
    low: float
    high: float
    p_value: float
    n_queries: int


def seed_for(seed: int, *keys: str) -> np.random.Generator:
    """A generator from ``seed`` and the sorted ``keys`` (order does not matter)."""
    digest = hashlib.sha256("\n".join(sorted(keys)).encode()).digest()
    return np.random.default_rng([seed, *np.frombuffer(digest[:16], dtype="<u4").tolist()])


def sign_flip_p_value(d: np.ndarray, rng: np.random.Generator, n_permutations: int = 9999) -> float:
    """Two-sided sign-flip p-value of ``mean(d) = 0`` for paired differences ``d``.

    Under H0 each ``d_q`` is as likely as ``-d_q``, so ``T = mean(s * d)`` with random
    signs ``s`` is the null distribution of the observed ``t = mean(d)`` (symmetric about
    0). With ``2^n <= n_permutations`` every sign vector is enumerated and
    ``p = #{|T| >= |t|} / 2^n`` (exact); otherwise ``n_permutations`` random sign vectors
    give ``p = (1 + #{|T| >= |t|}) / (1 + n_permutations)`` (Phipson & Smyth 2010: never 0).
    ``|T| >= |t|`` is decided with a tolerance of 1e-9 sum(|d|), so float summation order
    does not split equal statistics.

    >>> sign_flip_p_value(np.array([1.0, 1.0, 1.0]), np.random.default_rng(0))
    0.25
    """
    d = np.asarray(d, dtype=np.float64)
    n = d.size
    t = abs(float(d.sum()))
    tol = 1e-9 * max(float(np.abs(d).sum()), 1e-300)
    # A sign vector is a row of bits (1 = flip): sum(s * d) = sum(d) - 2 * bits @ d.
    if n < 63 and 2**n <= n_permutations:
        exact = True
        codes = np.arange(2**n, dtype=np.int64)[:, None] >> np.arange(n, dtype=np.int64)
        batches: Iterable[np.ndarray] = [codes & 1]
    else:
        exact = False
        step = max(1, _BATCH_ELEMENTS // n)
        sizes = [min(step, n_permutations - i) for i in range(0, n_permutations, step)]
        batches = (
            np.unpackbits(rng.integers(0, 256, (m, (n + 7) // 8), np.uint8), axis=1, count=n)
            for m in sizes
        )
    total = d.sum()
    hits = sum(
        int((np.abs(total - 2.0 * (bits.astype(np.float64) @ d)) >= t - tol).sum())
        for bits in batches
    )
    if exact:
        return hits / 2**n
    return (1 + hits) / (1 + n_permutations)


def paired_test(
    a: np.ndarray,
    b: np.ndarray,
    *,
    seed: int = 0,
    keys: Sequence[str] = (),
    n_permutations: int = 9999,
    confidence: float = 0.95,
    n_resamples: int = 1000,
) -> Comparison:
    """Paired sign-flip test and paired bootstrap interval of ``mean(a - b)``.

    >>> a = np.r_[np.ones(30), np.zeros(10)]; b = np.r_[np.zeros(30), np.ones(10)]
    >>> c = paired_test(a, b, seed=0)
    >>> round(c.difference, 2), c.p_value < 0.01, c.low < 0.5 < c.high
    (0.5, True, True)
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise InputError(
            f"paired values must be two equal 1-D arrays, got {a.shape} and {b.shape}; "
            "compare submissions scored on the same queries"
        )
    d = a - b
    if not np.any(d):
        return Comparison(0.0, 0.0, 0.0, 1.0, int(d.size))
    p = sign_flip_p_value(d, seed_for(seed, *keys), n_permutations)
    lo, hi = bootstrap_interval(d, confidence, n_resamples, seed)
    return Comparison(float(d.mean()), float(lo[0]), float(hi[0]), p, int(d.size))


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values, in the input order (see the module doc)."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def ranks(better: np.ndarray) -> np.ndarray:
    """``1 + #{j : better[j, i]}`` where ``better[j, i]`` says j is significantly better.

    >>> ranks(np.array([[0, 1, 1], [0, 0, 0], [0, 0, 0]], bool)).tolist()
    [1, 2, 2]
    """
    better = np.asarray(better, dtype=bool)
    if better.ndim != 2 or better.shape[0] != better.shape[1]:
        raise InputError(f"better must be a square matrix, got shape {better.shape}")
    return 1 + better.sum(axis=0)
