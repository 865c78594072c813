"""Ranking a database held in shards: locally, or shard by shard on a Dask cluster.

The ranking facts add up over database shards (DESIGN.md section 3): with the exact d*,
S and first tied positive of every query computed once from the positives' rows, each
shard counts its own L, T and B and proposes exact top-k candidates; the counts are
summed and the candidates merged. :func:`rank_sharded` gives exactly the facts
:func:`vprmetrics.ranking.engine.rank` gives on the concatenated database.

Shards are arrays or paths of ``.npy`` files (memory-mapped where they are read). With a
``dask.distributed`` client (``pip install 'vprmetrics[distributed]'``; locally a
``LocalCluster``), each shard is scanned on a worker, so a path is read by the worker
itself and never shipped.

>>> import numpy as np
>>> from vprmetrics.geo.positives import Positives
>>> db = np.array([[0.0], [1.0], [1.0], [3.0]]); q = np.array([[1.0]])
>>> f = rank_sharded(q, [db[:2], db[2:]], Positives.from_lists([[2]], 4), k=2)
>>> f.closer.tolist(), f.tied_negatives.tolist(), f.topk_ids.tolist()
([0], [1], [[1, 2]])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vprmetrics.checks import check_shape, load_npy
from vprmetrics.errors import InputError, InputTypeError
from vprmetrics.geo.positives import Positives
from vprmetrics.ranking.engine import merge_scans, prepare_queries, scan_shard
from vprmetrics.ranking.facts import RankingFacts

__all__ = ["ShardedRows", "rank_sharded"]

Shard = np.ndarray | str | os.PathLike


def _open(shard: Shard, i: int) -> np.ndarray:
    if isinstance(shard, str | os.PathLike):
        return load_npy(Path(shard), f"database shard {i}")
    return shard


class ShardedRows:
    """Read-only row view over shards: ``shape``, ``dtype`` and row gathers ``view[ids]``
    (what the positives pass needs), without concatenating the shards."""

    def __init__(self, shards: Sequence[np.ndarray]) -> None:
        if not shards:
            raise InputError("no database shards given; give at least one array or .npy path")
        dims = {int(s.shape[1]) if s.ndim == 2 else -1 for s in shards}
        dtypes = {s.dtype for s in shards}
        if len(dims) != 1:
            raise InputError(f"database shards have different dims {sorted(map(str, dims))}")
        if len(dtypes) != 1:
            raise InputTypeError(
                f"database shards have different dtypes {sorted(map(str, dtypes))}"
            )
        self.shards = list(shards)
        self.offsets = np.cumsum([0] + [s.shape[0] for s in shards])
        self.shape = (int(self.offsets[-1]), dims.pop())
        self.dtype = dtypes.pop()
        self.ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, ids) -> np.ndarray:
        if isinstance(ids, slice):
            ids = np.arange(*ids.indices(self.shape[0]))
        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty((ids.size, self.shape[1]), dtype=self.dtype)
        which = np.searchsorted(self.offsets, ids, side="right") - 1
        for s in np.unique(which):
            sel = which == s
            out[sel] = self.shards[s][ids[sel] - self.offsets[s]]
        return out


def _scan(state, shard: Shard, index: int, offset: int, block_size: int | None):
    return scan_shard(state, _open(shard, index), offset, block_size=block_size, progress=False)


def rank_sharded(
    queries: np.ndarray,
    shards: Sequence[Shard],
    positives: Positives,
    *,
    metric: str = "l2",
    k: int = 20,
    tie_rtol: float = 1e-9,
    backend: str = "numpy",
    block_size: int | None = None,
    client=None,
) -> RankingFacts:
    """The ranking facts of ``queries`` against the concatenation of ``shards``.

    ``positives`` uses global database ids (shard 0 first). ``client`` is an optional
    ``dask.distributed.Client``: each shard is then scanned by a worker.
    """
    opened = [check_shape(_open(s, i), f"database shard {i}") for i, s in enumerate(shards)]
    view = ShardedRows(opened)
    state = prepare_queries(
        queries, view, positives, metric=metric, k=k, tie_rtol=tie_rtol, backend=backend
    )
    offsets = [int(o) for o in view.offsets[:-1]]
    if client is None:
        scans = [
            _scan(state, s, i, o, block_size)
            for i, (s, o) in enumerate(zip(opened, offsets, strict=True))
        ]
    else:
        remote_state = client.scatter(state, broadcast=True)
        futures = [
            client.submit(_scan, remote_state, shard, i, o, block_size, pure=False)
            for i, (shard, o) in enumerate(zip(shards, offsets, strict=True))
        ]
        scans = client.gather(futures)
    return merge_scans(state, scans)
