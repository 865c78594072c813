"""Per-query ranking facts: everything a metric needs, computed once.

For query ``q`` with positives ``P`` and exact distances ``d_j`` (docs/metrics.md, "Ranking facts"):

* ``d_star`` = min over ``j in P`` of ``d_j`` (NaN when ``P`` is empty)
* ``closer`` = L = #{j not in P : d_j < d*}           (negatives strictly closer)
* ``tied_negatives`` = T = #{j not in P : d_j ties d*}
* ``tied_positives`` = S = #{j in P : d_j ties d*}     (S >= 1 when P is not empty)
* ``tied_negatives_before`` = B = #{tied negatives with a lower index than the first
  tied positive} (the ``stable`` policy's rank is L + B + 1)
* ``topk_ids`` / ``topk_distances``: the k nearest items by exact distance, tied items
  in ascending database index (``-1`` / ``inf`` pads when k exceeds the database).

Facts add up over database shards and can be saved and re-read (``.npz``, no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from vprmetrics.errors import InputError

__all__ = ["RankingFacts"]

_ARRAYS = (
    "d_star",
    "closer",
    "tied_negatives",
    "tied_positives",
    "tied_negatives_before",
    "n_positives",
    "topk_ids",
    "topk_distances",
)


@dataclass(frozen=True)
class RankingFacts:
    """The ranking facts of every query against one database (see the module doc)."""

    d_star: np.ndarray
    closer: np.ndarray
    tied_negatives: np.ndarray
    tied_positives: np.ndarray
    tied_negatives_before: np.ndarray
    n_positives: np.ndarray
    topk_ids: np.ndarray
    topk_distances: np.ndarray
    n_database: int
    metric: str = "l2"
    tie_rtol: float = 1e-9

    @property
    def n_queries(self) -> int:
        return int(self.d_star.shape[0])

    @property
    def k(self) -> int:
        return int(self.topk_ids.shape[1])

    @property
    def has_positive(self) -> np.ndarray:
        return self.n_positives > 0

    @property
    def rank_optimistic(self) -> np.ndarray:
        """L + 1 (meaningless where a query has no positive)."""
        return self.closer + 1

    @property
    def rank_pessimistic(self) -> np.ndarray:
        """L + T + 1."""
        return self.closer + self.tied_negatives + 1

    @property
    def rank_stable(self) -> np.ndarray:
        """L + B + 1: the rank under ``argsort(kind="stable")`` of the exact distances."""
        return self.closer + self.tied_negatives_before + 1

    @property
    def n_at_or_before_best(self) -> np.ndarray:
        """k_q = #{j : d_j <= d*} = L + T + S (the PSSR count; ties count against)."""
        return self.closer + self.tied_negatives + self.tied_positives

    def save(self, path: str | Path) -> None:
        """Write the facts to ``.npz`` (re-read with :meth:`load`)."""
        np.savez(
            path,
            **{name: getattr(self, name) for name in _ARRAYS},
            n_database=np.int64(self.n_database),
            metric=np.str_(self.metric),
            tie_rtol=np.float64(self.tie_rtol),
        )

    @classmethod
    def load(cls, path: str | Path) -> RankingFacts:
        """Read facts written by :meth:`save` (never unpickles)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                values = {name: data[name] for name in _ARRAYS}
                return cls(
                    **values,
                    n_database=int(data["n_database"]),
                    metric=str(data["metric"]),
                    tie_rtol=float(data["tie_rtol"]),
                )
        except (KeyError, ValueError) as err:
            raise InputError(
                f"{path} is not a ranking-facts file ({err}); write it with save()"
            ) from err

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RankingFacts):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, f.name), getattr(other, f.name), equal_nan=True)
            if isinstance(getattr(self, f.name), np.ndarray)
            else getattr(self, f.name) == getattr(other, f.name)
            for f in fields(self)
        )

    __hash__ = None  # type: ignore[assignment]
