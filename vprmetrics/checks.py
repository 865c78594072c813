"""Input checks shared by every entry point.

Each check returns the validated array (never a silent copy of a large input) or raises
an :mod:`vprmetrics.errors` exception whose one-line message names the problem and the fix.

>>> as_descriptors([[0.0, 1.0], [1.0, 0.0]], "queries").shape
(2, 2)
>>> as_cutoffs([10, 1, 5, 5], "N")
[1, 5, 10]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from vprmetrics.errors import InputError, InputTypeError
from vprmetrics.input_limits import (
    MAX_COORDINATE_ABS,
)

__all__ = [
    "as_coordinates",
    "as_cutoffs",
    "as_descriptors",
    "as_headings",
    "as_percentages",
    "check_finite",
    "check_shape",
]

_FINITE_CHUNK_ELEMENTS = 1 << 24


def _float_dtype_or_raise(array: np.ndarray, name: str) -> None:
    if array.dtype == object:
        raise InputTypeError(
            f"{name} is an object array; save it as a float array (np.asarray(x, dtype='float32'))"
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise InputTypeError(
            f"{name} has dtype {array.dtype}, expected float16/32/64; "
            f"convert it with {name}.astype('float32')"
        )


def check_finite(array: np.ndarray, name: str) -> None:
    """Raise :class:`InputError` when ``array`` holds NaN or inf (checked in chunks, so a
    memory-mapped input is never loaded whole)."""
    if array.size == 0:
        return
    flat_rows = array.reshape(array.shape[0], -1) if array.ndim > 1 else array.reshape(-1, 1)
    step = max(1, _FINITE_CHUNK_ELEMENTS // max(1, flat_rows.shape[1]))
    for start in range(0, flat_rows.shape[0], step):
        chunk = np.asarray(flat_rows[start : start + step])
        bad = ~np.isfinite(chunk)
        if bad.any():
            row = start + int(np.argwhere(bad)[0][0])
            raise InputError(
                f"{name} has a NaN or inf value (first in row {row}); "
                "remove or repair those rows before evaluating"
            )


def check_shape(array: np.ndarray, name: str) -> np.ndarray:
    """A non-empty 2-D float array (the cheap checks of :func:`as_descriptors`, no scan)."""
    _float_dtype_or_raise(array, name)
    if array.ndim != 2:
        raise InputError(
            f"{name} has shape {array.shape}, expected (n, dim); stack one descriptor per row"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InputError(
            f"{name} is empty (shape {array.shape}); give at least one row and one column"
        )
    return array


def as_descriptors(x, name: str) -> np.ndarray:
    """A non-empty 2-D float array of finite descriptors, one row per image."""
    array = check_shape(x if isinstance(x, np.ndarray) else np.asarray(x), name)
    check_finite(array, name)
    return array


def as_coordinates(x, name: str, n: int | None = None) -> np.ndarray:
    """A finite float64 ``(n, 2)`` array of coordinates (easting, northing or lat, lon)."""
    array = x if isinstance(x, np.ndarray) else np.asarray(x)
    if array.dtype == object:
        raise InputTypeError(f"{name} is an object array; save coordinates as float64")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InputTypeError(f"{name} has dtype {array.dtype}, expected float64 coordinates")
    if array.ndim != 2 or array.shape[1] != 2:
        raise InputError(f"{name} has shape {array.shape}, expected (n, 2) coordinates")
    if n is not None and array.shape[0] != n:
        raise InputError(
            f"{name} has {array.shape[0]} rows but there are {n} images; give one row per image"
        )
    array = np.asarray(array, dtype=np.float64)
    check_finite(array, name)
    if array.size and float(np.abs(array).max()) > MAX_COORDINATE_ABS:
        raise InputError(
            f"{name} has a value of magnitude {float(np.abs(array).max()):.3g}, beyond "
            f"{MAX_COORDINATE_ABS:g}; give UTM metres or lat/lon degrees"
        )
    return array


def as_headings(x, name: str, n: int) -> np.ndarray:
    """A finite float64 ``(n,)`` array of headings in degrees."""
    array = np.asarray(x)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise InputTypeError(f"{name} has dtype {array.dtype}, expected float headings in degrees")
    array = np.asarray(array, dtype=np.float64).reshape(-1)
    if array.shape[0] != n:
        raise InputError(f"{name} has {array.shape[0]} values but there are {n} images")
    check_finite(array, name)
    return array


def _number_or_none(value: Any) -> float | None:
    if isinstance(value, bool | str | bytes):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def as_cutoffs(values: Iterable[int] | int, name: str = "N") -> list[int]:
    """Sorted, deduplicated positive integer cut-offs (``N`` of Recall@N)."""
    items: list[Any] = [values] if np.isscalar(values) else list(values)  # type: ignore[arg-type]
    if not items:
        raise InputError(f"the list of {name} is empty; give at least one value, e.g. 1,5,10")
    out = set()
    for v in items:
        number = _number_or_none(v)
        if number is None or not np.isfinite(number) or number != int(number) or number < 1:
            raise InputError(f"{name} = {v!r} is not a positive integer; use values like 1,5,10")
        out.add(int(number))
    return sorted(out)


def as_percentages(values: Iterable[float] | float, name: str = "K") -> list[float]:
    """Sorted, deduplicated percentages in (0, 100] (``K`` of Recall@K%)."""
    items: list[Any] = [values] if np.isscalar(values) else list(values)  # type: ignore[arg-type]
    if not items:
        raise InputError(f"the list of {name} is empty; give at least one value, e.g. 1,5,10")
    out = set()
    for v in items:
        k = _number_or_none(v)
        if k is None or not np.isfinite(k) or not 0 < k <= 100:
            raise InputError(f"{name} = {v!r} is not a percentage in (0, 100]; use values like 1,5")
        out.add(int(k) if k == int(k) else k)
    return sorted(out)
