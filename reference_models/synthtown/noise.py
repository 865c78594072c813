"""Bit-reproducible building blocks: integer hashing and rounded trigonometry.

Everything the renderer draws is a function of IEEE-754 basic operations (``+ - * / sqrt``,
comparisons, floor), 32-bit integer hashing and the two helpers below, so the same inputs
give the same pixels on any platform. Trigonometric values come from ``numpy.cos`` /
``numpy.sin`` rounded to a 2**-30 grid: a platform whose libm differs in the last bit still
lands on the same grid point (unless the exact value lies within one ulp of a grid
midpoint, which has probability about 2**-22 per value).
"""

from __future__ import annotations

import numpy as np

__all__ = ["cos_sin_deg", "hash01", "hash_u32"]

_GRID = float(2**30)
_P = np.int64(0x100000001B3)
_M2 = np.uint32(0x85EBCA6B)
_M3 = np.uint32(0xC2B2AE35)


def cos_sin_deg(degrees: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Cosine and sine of angles in degrees, rounded to a 2**-30 grid (platform-stable)."""
    rad = np.deg2rad(np.asarray(degrees, dtype=np.float64))
    c = np.round(np.cos(rad) * _GRID) / _GRID
    s = np.round(np.sin(rad) * _GRID) / _GRID
    return c, s


def hash_u32(*keys: np.ndarray | int, seed: int = 0) -> np.ndarray:
    """Mix integer keys (broadcast together) into well-spread uint32 values.

    The keys are folded into one int64 with an FNV-style multiply (wrapping), then the
    high and low halves are combined and passed through the murmur3 32-bit finaliser.
    All arithmetic is on arrays, where numpy integer overflow wraps silently.
    """
    acc = np.atleast_1d(np.asarray(keys[0])).astype(np.int64) ^ np.int64(seed * 0x2545F491 + 1)
    acc = acc * _P
    for k in keys[1:]:
        acc = (acc ^ np.asarray(k, dtype=np.int64)) * _P
    h = ((acc >> np.int64(29)) ^ acc).astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= _M2
    h ^= h >> np.uint32(13)
    h *= _M3
    h ^= h >> np.uint32(16)
    return h


def hash01(*keys: np.ndarray | int, seed: int = 0) -> np.ndarray:
    """Uniform float32 values in [0, 1) from integer keys (see :func:`hash_u32`)."""
    return (hash_u32(*keys, seed=seed) >> np.uint32(8)).astype(np.float32) * np.float32(2.0**-24)
