"""Limits on what untrusted input may make vprmetrics allocate, in one place.

Every buffer whose size an input decides is bounded by one of these limits, checked
before the allocation (for arrays, from the declared shape in the ``.npy`` header, also
inside an ``.npz`` member, before it is inflated); an input past a limit is refused with a
one-line message. They sit far above any published benchmark (the largest, MSLS and
SF-XL, have under 3 million images); a host with more memory can raise them by assigning
the module attributes before it calls vprmetrics.

>>> MAX_N_RESAMPLES
100000
"""

from __future__ import annotations

import numpy as np

from vprmetrics.errors import InputError, InputTypeError

__all__ = [
    "MAX_ARRAY_ELEMENTS",
    "MAX_COORDINATE_ABS",
    "MAX_IN_MEMORY_BYTES",
    "MAX_NPZ_MEMBERS",
    "MAX_N_RESAMPLES",
    "MAX_RECALL_AT",
    "MAX_TEXT_FILE_BYTES",
    "MAX_TOP_K_ENTRIES",
    "check_n_resamples",
    "check_top_k",
]

#: Elements in one input array, as its ``.npy`` header declares them (2**32: 16 GiB of
#: float32, e.g. 4 million 1024-dim descriptors; memory-mapped, never loaded whole).
MAX_ARRAY_ELEMENTS = 2**32
#: Bytes read into memory at once from one array: an ``.npz`` member (inflated from the
#: zip) or a coordinate file (4 GiB). Larger descriptors go in memory-mapped ``.npy`` files.
MAX_IN_MEMORY_BYTES = 2**32
#: Members of an ``.npz`` archive (a submission has 4 arrays, a ground-truth file 12).
MAX_NPZ_MEMBERS = 64
#: Largest Recall@N cut-off: the engine keeps the top N of every query.
MAX_RECALL_AT = 10_000
#: Queries x N of that top-N buffer (2**27 entries, about 2 GiB of ids and distances).
#: Larger cut-offs are what Recall@K% is for: it needs no top-N buffer.
MAX_TOP_K_ENTRIES = 2**27
#: Bootstrap resamples for the confidence intervals (the default is 1000).
MAX_N_RESAMPLES = 100_000
#: Largest coordinate magnitude (metres or degrees); beyond it distances overflow.
MAX_COORDINATE_ABS = 1e9
#: A text file read whole: a protocol, a CSV, a paths or split file (256 MiB).
MAX_TEXT_FILE_BYTES = 2**28


def check_top_k(n_queries: int, k: int) -> None:
    """Refuse a Recall@N cut-off whose top-N buffer would pass the limits above.

    >>> check_top_k(1000, 20)
    >>> check_top_k(500, 200_000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vprmetrics.errors.InputError: N = 200000 is more than the limit of 10000...
    """
    if k > MAX_RECALL_AT:
        raise InputError(
            f"N = {k} is more than the limit of {MAX_RECALL_AT} for Recall@N; ask for "
            "Recall@K% (--recall-at-percent) for large cut-offs"
        )
    if n_queries * k > MAX_TOP_K_ENTRIES:
        raise InputError(
            f"{n_queries} queries x N = {k} passes the limit of {MAX_TOP_K_ENTRIES:,} top-N "
            "entries; ask for smaller N, or Recall@K% (--recall-at-percent)"
        )


def check_n_resamples(n_resamples: int) -> int:
    """A bootstrap resample count in ``[1, MAX_N_RESAMPLES]``.

    >>> check_n_resamples(1000)
    1000
    """
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int | np.integer):
        raise InputTypeError(f"n_resamples = {n_resamples!r} is not an integer; use e.g. 1000")
    if not 1 <= n_resamples <= MAX_N_RESAMPLES:
        raise InputError(
            f"n_resamples = {n_resamples} is outside [1, {MAX_N_RESAMPLES}]; use e.g. 1000"
        )
    return int(n_resamples)
