"""Compact binary forms for the store: ranking facts and ground truth as ``.npz`` bytes.

Every field of :class:`~vprmetrics.ranking.facts.RankingFacts` goes into one compressed
``.npz`` (scalars as 0-d arrays), and is read back with ``allow_pickle=False``: a blob is
enough to recompute every metric and any paired test without ranking again.

>>> import numpy as np
>>> f = RankingFacts(np.zeros(2), np.array([0, 3]), np.zeros(2, int), np.ones(2, int),
...                  np.zeros(2, int), np.ones(2, int), np.zeros((2, 1), int),
...                  np.zeros((2, 1)), n_database=5)
>>> facts_from_blob(facts_to_blob(f)) == f
True
"""

from __future__ import annotations

import io
from dataclasses import fields
from typing import Any

import numpy as np

from vprmetrics.errors import InputError
from vprmetrics.ranking.facts import RankingFacts

__all__ = ["arrays_from_blob", "arrays_to_blob", "facts_from_blob", "facts_to_blob"]


def arrays_to_blob(arrays: dict[str, np.ndarray]) -> bytes:
    """Plain arrays to compressed ``.npz`` bytes (object arrays are refused by numpy on read)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]  # numpy stubs: allow_pickle kw
    return buf.getvalue()


def arrays_from_blob(blob: bytes, what: str) -> dict[str, np.ndarray]:
    """Read ``.npz`` bytes without pickle; ``what`` names the blob in errors."""
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (ValueError, OSError, EOFError) as err:
        raise InputError(f"the store's {what} is not a valid .npz blob ({err}); re-submit") from err


def facts_to_blob(facts: RankingFacts) -> bytes:
    """Every field of ``facts`` as compressed ``.npz`` bytes."""
    return arrays_to_blob({f.name: np.asarray(getattr(facts, f.name)) for f in fields(facts)})


def facts_from_blob(blob: bytes) -> RankingFacts:
    """The facts written by :func:`facts_to_blob`."""
    data = arrays_from_blob(blob, "ranking facts")
    names = [f.name for f in fields(RankingFacts)]
    missing = sorted(set(names) - set(data))
    if missing:
        raise InputError(f"the store's ranking facts lack {missing}; re-submit the entry")
    values: dict[str, Any] = {n: data[n].item() if data[n].ndim == 0 else data[n] for n in names}
    return RankingFacts(**values)
