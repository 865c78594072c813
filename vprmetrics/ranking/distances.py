"""Distance conventions, the tie test, and the float32 error margin.

Smaller is closer for every metric:

* ``l2``: squared Euclidean distance ``d = sum_i (q_i - x_i)^2`` (as faiss and the VG
  benchmark rank; the order equals that of the Euclidean distance).
* ``ip``: ``d = -q.x`` (inner-product similarity, negated).
* ``cosine``: ``d = -q.x / (|q| |x|)``.

Fast ranking uses float32 GEMM; every decision that matters (who ties with the best
positive, the order of the top-k) is re-decided with
:func:`vprmetrics.ranking.exact.exact_distances`, a float64 computation done row by row,
so two identical database vectors always get bitwise identical distances, whatever the
BLAS blocking. Two exact distances tie when ``|a - b| <= tie_rtol * max(s_a, s_b)``
(:func:`ties`), with ``s`` the scale of the computation (:func:`tie_scale`:
``|q|^2 + |x|^2`` for l2, ``|q| |x|`` for ip, 1 for cosine), so equal values near zero tie
too; ``tie_rtol = 0`` is exact equality. :func:`float32_margin` bounds the float32 error.

>>> bool(ties(np.array([-5.55e-17]), np.array([-2.78e-17]), 1e-9, np.array([0.65]))[0])
True
"""

from __future__ import annotations

import numpy as np

from vprmetrics.errors import InputError

__all__ = [
    "MAX_NORM_F32",
    "METRICS",
    "SMALLEST_NORMAL_F32",
    "UNIT_ROUNDOFF_F32",
    "check_metric",
    "float32_margin",
    "normalize_rows",
    "round_down32",
    "round_up32",
    "scale_bound",
    "tie_scale",
    "ties",
]

METRICS: tuple[str, ...] = ("l2", "cosine", "ip")
UNIT_ROUNDOFF_F32 = 2.0**-24
SMALLEST_NORMAL_F32 = 2.0**-126
MAX_NORM_F32 = 1e18  # |q|, |x| above this overflow a float32 squared distance


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise InputError(f"metric {metric!r} is unknown; use one of {', '.join(METRICS)}")
    return metric


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm in float64; an all-zero row stays zero."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    return x / np.where(norms > 0, norms, 1.0)[:, None]


def tie_scale(q_sq: np.ndarray, x_sq: np.ndarray, metric: str) -> np.ndarray:
    """The scale ``s`` of one distance computation, from the squared norms of its rows.

    ``s = |q|^2 + |x|^2`` (l2), ``|q| |x|`` (ip) and 1 (cosine: unit rows). A float64
    distance is accurate relative to ``s``, not to ``|d|``: ``-q.x`` can be near zero
    while its terms are not.

    >>> tie_scale(np.array([4.0]), np.array([9.0]), "ip").tolist()
    [6.0]
    """
    q_sq, x_sq = np.broadcast_arrays(np.asarray(q_sq, np.float64), np.asarray(x_sq, np.float64))
    if metric == "l2":
        return q_sq + x_sq
    if metric == "ip":
        return np.sqrt(q_sq * x_sq)
    return np.ones(q_sq.shape)


def ties(a: np.ndarray, b: np.ndarray, rtol: float, scale: np.ndarray) -> np.ndarray:
    """Elementwise: do exact distances ``a`` and ``b`` tie? ``|a - b| <= rtol * scale``,
    with ``scale = max(s_a, s_b)`` (:func:`tie_scale`); ``rtol = 0`` is exact equality.

    >>> ties(np.array([1.0, 1.0, 0.0]), np.array([1.0 + 1e-12, 1.1, 0.0]), 1e-9, 1.0).tolist()
    [True, False, True]
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.abs(a - b) <= rtol * np.asarray(scale, dtype=np.float64)


def float32_margin(
    dim: int, q_norm: np.ndarray, x_norm_max: float, metric: str, chunk: int | None = None
) -> np.ndarray:
    """An upper bound on ``|d32 - d|``, the error of a float32 GEMM distance.

    With ``u = 2^-24`` and ``g = (c + 8) u / (1 - (c + 8) u)`` (Higham's gamma for a
    dot product of length ``c``, plus the rounding of float64 inputs to float32 and of
    the final additions), a float32 distance computed as ``|q|^2 + |x|^2 - 2 q.x`` (l2) or
    ``-q.x`` (ip, cosine on unit rows) differs from the exact one by at most

    * l2: ``g (|q| + |x|)^2``
    * ip, cosine: ``g |q| |x|``

    whatever the summation order or blocking, as long as nothing underflows. ``c`` is
    ``dim``, or ``chunk`` when the inner dimension is split into chunks whose float32
    partial products are added in float64: each chunk errs by at most ``g_c`` times its
    share of ``sum |q_i x_i|``, which sums to ``g_c |q| |x|`` (Cauchy-Schwarz), and the
    float64 sum of the ``p = ceil(dim / chunk)`` partials adds ``(p + 2) 2^-53`` of the
    same bound. Underflow (and the flush-to-zero mode some BLAS kernels run in) adds an
    absolute error of at most ``eta = 2^-126`` per rounding, so the bound gains the term
    ``4 (dim + 8 p) eta (1 + sqrt(dim) (|q| + |x|))``. The engine uses twice that bound
    with the largest ``|x|`` of the database block, so the band it re-decides in float64
    always contains every item that could tie with, or be ordered differently from, the
    best positive. ``tests/ranking/test_distances.py`` checks the bound on adversarial
    inputs, chunked and not.

    >>> float(float32_margin(128, np.array([1.0]), 1.0, "ip")[0]) < 2e-5
    True
    >>> a, b = (float32_margin(16384, np.ones(1), 1.0, "ip", c)[0] for c in (None, 512))
    >>> bool(b < a / 25)
    True
    """
    c = dim if chunk is None or chunk >= dim else int(chunk)
    parts = -(-dim // c)
    n = c + 8
    gamma = n * UNIT_ROUNDOFF_F32 / (1.0 - n * UNIT_ROUNDOFF_F32)
    if parts > 1:
        gamma += (parts + 2) * 2.0**-53 * (1.0 + gamma)
    q_norm = np.asarray(q_norm, dtype=np.float64)
    underflow = (
        4.0 * (dim + 8 * parts) * SMALLEST_NORMAL_F32 * (1.0 + np.sqrt(dim) * (q_norm + x_norm_max))
    )
    if metric == "l2":
        return 2.0 * (gamma * (q_norm + x_norm_max) ** 2 + underflow)
    return 2.0 * (gamma * q_norm * x_norm_max + underflow)


def round_up32(values: np.ndarray) -> np.ndarray:
    """float32 values >= the float64 ``values`` (for selecting supersets)."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = values.astype(np.float32)
        low = out < values
    out[low] = np.nextafter(out[low], np.float32(np.inf))
    return out


def round_down32(values: np.ndarray) -> np.ndarray:
    """float32 values <= the float64 ``values``."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = values.astype(np.float32)
        high = out > values
    out[high] = np.nextafter(out[high], np.float32(-np.inf))
    return out


def scale_bound(q_norm: np.ndarray, x_norm_max: float, metric: str) -> np.ndarray:
    """An upper bound on :func:`tie_scale` for query norms ``q_norm`` and database norms
    up to ``x_norm_max`` (rounded up a little, so it bounds the float64 values too)."""
    q_norm = np.asarray(q_norm, dtype=np.float64)
    if metric == "l2":
        out = q_norm**2 + x_norm_max**2
    elif metric == "ip":
        out = q_norm * x_norm_max
    else:
        out = np.ones(q_norm.shape)
    return out * (1.0 + 1e-12)
