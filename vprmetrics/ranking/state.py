"""What the scan of one database shard reads and returns: the query state and the counts.

:class:`QueryState` is built once per evaluation (and can be sent to Dask workers as it
is); :class:`ShardScan` holds one shard's additive facts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vprmetrics.ranking import limits

__all__ = ["Counts", "QueryState", "ShardScan"]


class Counts:
    """The per-query counts L, tied items, tied items before the first tied positive."""

    def __init__(self, nq: int) -> None:
        self.closer = np.zeros(nq, dtype=np.int64)
        self.tied_all = np.zeros(nq, dtype=np.int64)
        self.tied_before = np.zeros(nq, dtype=np.int64)


@dataclass
class QueryState:
    """What every database shard needs about the queries: their float32 GEMM operand,
    the exact best-positive facts (d*, its tie scale, S, first tied positive), the largest
    database norm (which bounds every tie scale) and the settings.

    Built once by :func:`prepare_queries`; :func:`scan_shard` reads it, so it can be
    sent to Dask workers as it is.
    """

    q_src: np.ndarray
    q32: np.ndarray
    shift: np.ndarray
    q_norm: np.ndarray
    q_sq: np.ndarray
    d_star: np.ndarray
    star_scale: np.ndarray
    n_tied_pos: np.ndarray
    first_tied_pos: np.ndarray
    n_positives: np.ndarray
    n_database: int
    x_norm_max: float
    metric: str
    backend: str
    k: int
    tie_rtol: float

    @property
    def has(self) -> np.ndarray:
        return ~np.isnan(self.d_star)

    @property
    def keep(self) -> int:
        return min(self.n_database, self.k + limits.TOPK_SLACK)


@dataclass
class ShardScan:
    """The additive facts of one database shard: counts relative to the global d*, and
    exact top-k candidates with global database ids (entries of a query contiguous)."""

    closer: np.ndarray
    tied_all: np.ndarray
    tied_before: np.ndarray
    cand_query: np.ndarray
    cand_id: np.ndarray
    cand_dist: np.ndarray
    cand_scale: np.ndarray
