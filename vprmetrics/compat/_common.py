"""What the drop-ins share: array conversion, ground truth and exact recall with warnings.

Arrays may be numpy arrays or torch tensors on any device: a tensor is converted with
``.detach().cpu().numpy()`` (duck-typed, so torch is never imported here).

>>> as_numpy([[1, 2]]).tolist()
[[1, 2]]
>>> exact_recalls(np.eye(3), np.eye(3), as_positives([[0], [1], [2]], 3), [1, 2]).recall
{1: 1.0, 2: 1.0}
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vprmetrics.errors import InputError, InputTypeError
from vprmetrics.geo.positives import Positives
from vprmetrics.metrics.recall import recall_at_n
from vprmetrics.metrics.ties import check_policy
from vprmetrics.ranking.engine import rank
from vprmetrics.ranking.facts import RankingFacts

__all__ = ["ExactRecalls", "as_numpy", "as_positives", "exact_recalls"]


def as_numpy(x) -> np.ndarray:
    """A numpy array from a numpy array, a list, or a torch tensor (CPU or CUDA)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        t = x.detach().cpu()
        if str(getattr(t, "dtype", "")) == "torch.bfloat16":
            t = t.float()  # numpy has no bfloat16
        return t.numpy()
    return np.asarray(x)


def as_positives(gt, n_database: int) -> Positives:
    """:class:`Positives` from one array (or list) of positive database ids per query."""
    if isinstance(gt, Positives):
        return gt
    try:
        rows = [np.asarray(as_numpy(r)).reshape(-1) for r in gt]
    except TypeError as err:
        raise InputTypeError(
            f"gt must hold one array of positive database ids per query, got {type(gt).__name__}"
        ) from err
    for q, r in enumerate(rows):
        if r.size and not np.issubdtype(r.dtype, np.integer):
            raise InputTypeError(
                f"gt[{q}] has dtype {r.dtype}; give integer database indices per query"
            )
        if r.size and (r.min() < 0 or r.max() >= n_database):
            raise InputError(
                f"gt[{q}] holds index {int(r.max() if r.max() >= n_database else r.min())} "
                f"outside the database [0, {n_database}); give database row numbers"
            )
    return Positives.from_lists([r.tolist() for r in rows], n_database)


@dataclass(frozen=True)
class ExactRecalls:
    """Recall@k (fractions) for each asked k, in the asked order, and the ranking facts."""

    recall: dict[int, float]
    facts: RankingFacts


def _pct(v: float) -> str:
    return f"{100 * v:.2f}%"


def exact_recalls(
    queries,
    database,
    positives: Positives,
    k_values: Sequence[int],
    ties: str = "stable",
    *,
    float16_index: bool = False,
    caller: str = "vprmetrics.compat",
) -> ExactRecalls:
    """Exact Recall@k for every k of ``k_values`` (a k beyond the database counts as all
    of it), with one warning line when the order of tied items, or rounding the vectors
    to float16 as a float16 GPU index does (``float16_index``), would change a value."""
    check_policy(ties)
    q, db = as_numpy(queries), as_numpy(database)
    ks = [int(k) for k in k_values]
    if not ks or min(ks) < 1:
        raise InputError(f"k values {list(k_values)} must be positive integers, e.g. [1, 5, 10]")
    n = int(db.shape[0]) if db.ndim == 2 else 0
    cut = sorted({min(k, n) for k in ks})
    facts = rank(q, db, positives, k=max(cut))
    exact = recall_at_n(facts, cut, ties)
    recall = {k: exact[min(k, n)] for k in ks}
    notes = []
    opt, pes = recall_at_n(facts, cut, "optimistic"), recall_at_n(facts, cut, "pessimistic")
    tied = [c for c in cut if opt[c] != pes[c]]
    if tied:
        spans = ", ".join(f"R@{c} {_pct(pes[c])}-{_pct(opt[c])}" for c in tied)
        notes.append(f"ties at the best positive let the order of tied items decide {spans}")
    if float16_index:
        half = rank(q.astype(np.float16), db.astype(np.float16), positives, k=max(cut))
        rounded = recall_at_n(half, cut, ties)
        moved = [c for c in cut if rounded[c] != exact[c]]
        if moved:
            spans = ", ".join(f"R@{c} {_pct(rounded[c])}" for c in moved)
            notes.append(f"the original's float16 GPU index (faiss_gpu=True) would give {spans}")
    if notes:
        values = ", ".join(f"R@{c} {_pct(exact[c])}" for c in cut)
        warnings.warn(
            f"{caller}: {'; '.join(notes)}; returning the exact {ties} values {values}",
            stacklevel=3,
        )
    return ExactRecalls(recall, facts)
