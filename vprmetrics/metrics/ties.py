"""Tie policies: the probability that query q finds a positive within the first N.

With L negatives strictly closer than the best positive, T negatives tied with it and
S >= 1 positives tied at d* (:mod:`vprmetrics.ranking.facts`), the first positive sits at rank
``r = L + J`` where J is its place in the tied block of T + S items:

================  =====================================================  ==================
policy            P(r <= N)                                              use
================  =====================================================  ==================
``optimistic``    [L + 1 <= N]                                           what most code does
``pessimistic``   [L + T + 1 <= N]                                       conservative bound
``expected``      1 - C(T, m) / C(T + S, m),  m = N - L (0 if m <= 0)    default; unbiased
``stable``        [L + B + 1 <= N], B tied negatives of lower index      argsort(kind=stable)
================  =====================================================  ==================

``expected`` is the exact probability under a uniformly random order of the tied block:
P(J > m) = C(T, m) / C(T + S, m) is the chance that the first m tied items are all
negatives (a hypergeometric probability). A constant descriptor therefore scores chance
level, S / n for N = 1, never 100%. A query without positives has probability 0.

>>> L, T, S = np.array([0]), np.array([3]), np.array([1])
>>> success_probability(L, T, S, T, [1, 2, 4], "expected").round(4).tolist()
[[0.25, 0.5, 1.0]]
>>> success_probability(L, T, S, T, [1, 4], "optimistic").tolist()
[[1.0, 1.0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import gammaln

from vprmetrics.errors import InputError

__all__ = ["TIE_POLICIES", "check_policy", "success_probability"]

TIE_POLICIES: tuple[str, ...] = ("expected", "optimistic", "pessimistic", "stable")


def check_policy(policy: str) -> str:
    if policy not in TIE_POLICIES:
        raise InputError(f"tie policy {policy!r} is unknown; use one of {', '.join(TIE_POLICIES)}")
    return policy


_EXACT_TERMS = 4096
_STIRLING_MIN = 100.0


def _log_gamma_step(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``lnGamma(x + h) - lnGamma(x)`` for x >= 1, h >= 0, with absolute error about
    ``1e-16 (x + h) / x * h ln(x + h)`` (never the ``x ln x`` of a plain difference).

    Stirling's series for both terms, subtracted analytically:
    ``(x - 1/2) log1p(h / x) + h ln(x + h) - h + phi(x + h) - phi(x)`` with
    ``phi(y) = 1/(12 y) - 1/(360 y^3) + 1/(1260 y^5)`` (truncation below 1e-17 for
    x >= 100); below 100 the plain difference, whose terms are then about ``h ln(x + h)``.
    """
    big = x >= _STIRLING_MIN
    xb, hb = np.where(big, x, _STIRLING_MIN), np.where(big, h, 0.0)
    y = xb + hb

    def phi(v: np.ndarray) -> np.ndarray:
        inv = 1.0 / v
        inv2 = inv * inv
        return inv * (1.0 / 12 - inv2 * (1.0 / 360 - inv2 / 1260))

    stirling = (xb - 0.5) * np.log1p(hb / xb) + hb * np.log(y) - hb + (phi(y) - phi(xb))
    return np.where(big, stirling, gammaln(x + h) - gammaln(np.where(big, 1.0, x)))


def _log_choose_ratio(t: np.ndarray, s: np.ndarray, m: np.ndarray) -> np.ndarray:
    """log( C(t, m) / C(t + s, m) ) for 0 <= m <= t, accurate when the ratio is near 1.

    Two products give the ratio: prod_{i<m} (1 - s / (t + s - i)) and
    prod_{i<s} (1 - m / (t + s - i)); the shorter one is summed as log1p terms (relative
    error about 1e-15 per term). Beyond 4096 terms, with ``h = min(m, s)``, it is a
    difference of two log-gamma steps of length h (:func:`_log_gamma_step`):
    ``D(t-m+1, m) - D(t+s-m+1, m)`` or ``D(t-m+1, s) - D(t+1, s)``, whose error is about
    ``1e-16 h ln(t + s)``; then ``1 - ratio`` has relative error below 1e-9 for any
    t + s <= 1e9 (``tests/metrics/test_ties.py`` checks it against 50-digit arithmetic).
    """
    t, s, m = np.broadcast_arrays(t.astype(np.float64), s.astype(np.float64), m.astype(np.float64))
    terms = np.minimum(m, s)
    step = np.where(m <= s, s, m)
    out = np.zeros(t.shape)
    short = terms <= _EXACT_TERMS
    for i in range(int(terms[short].max(initial=0))):
        active = short & (i < terms)
        out[active] += np.log1p(-step[active] / (t[active] + s[active] - i))
    long = ~short
    tl, sl, ml = t[long], s[long], m[long]
    by_m = ml <= sl
    h = np.where(by_m, ml, sl)
    first = _log_gamma_step(tl - ml + 1, h)
    second = _log_gamma_step(np.where(by_m, tl + sl - ml + 1, tl + 1), h)
    out[long] = first - second
    return out


def success_probability(
    closer: np.ndarray,
    tied_negatives: np.ndarray,
    tied_positives: np.ndarray,
    tied_negatives_before: np.ndarray,
    cutoffs: Sequence[int] | np.ndarray,
    policy: str = "expected",
) -> np.ndarray:
    """P(r_q <= N) for every query (rows) and cut-off N (columns), in float64.

    Rows with ``tied_positives == 0`` are queries without positives: probability 0.
    """
    check_policy(policy)
    L = np.asarray(closer, dtype=np.int64)[:, None]
    T = np.asarray(tied_negatives, dtype=np.int64)[:, None]
    S = np.asarray(tied_positives, dtype=np.int64)[:, None]
    B = np.asarray(tied_negatives_before, dtype=np.int64)[:, None]
    N = np.asarray(cutoffs, dtype=np.int64)[None, :]
    if N.size and N.min() < 0:
        raise InputError("cut-offs must be non-negative integers")
    found = S > 0
    if policy == "optimistic":
        p = (L + 1 <= N).astype(np.float64)
    elif policy == "pessimistic":
        p = (L + T + 1 <= N).astype(np.float64)
    elif policy == "stable":
        p = (L + B + 1 <= N).astype(np.float64)
    else:
        m = N - L
        inside = (m >= 1) & (m <= T)
        safe_m = np.where(inside, m, 0)
        log_ratio = _log_choose_ratio(T, S, safe_m)
        p = np.where(m > T, 1.0, np.where(inside, -np.expm1(log_ratio), 0.0))
    return np.where(found, p, 0.0)
