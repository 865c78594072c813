"""Ranking a database held in shards: locally, or shard by shard on a Dask cluster.

The ranking facts add up over database shards (docs/scale.md): with the exact d*, S and
first tied positive of every query computed once from the positives' rows, each shard
counts its own L, T and B and proposes exact top-k candidates; the counts are summed and
the candidates merged. :func:`rank_sharded` gives exactly the facts
:func:`vprmetrics.ranking.engine.rank` gives on the concatenated database.

A shard is an array, the path of a ``.npy`` file, or a :class:`RowRange` of one (read
memory-mapped where it is scanned). With a ``dask.distributed`` client (``pip install
'vprmetrics[distributed]'``; :mod:`vprmetrics.ranking.distributed`), each shard is scanned
on a worker, so a path is read by the worker itself and never shipped.

>>> import numpy as np
>>> from vprmetrics.geo.positives import Positives
>>> db = np.array([[0.0], [1.0], [1.0], [3.0]]); q = np.array([[1.0]])
>>> f = rank_sharded(q, [db[:2], db[2:]], Positives.from_lists([[2]], 4), k=2)
>>> f.closer.tolist(), f.tied_negatives.tolist(), f.topk_ids.tolist()
([0], [1], [[1, 2]])
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vprmetrics.checks import check_shape
from vprmetrics.errors import InputError, InputTypeError
from vprmetrics.geo.positives import Positives
from vprmetrics.npyio import load_npy, regular_file
from vprmetrics.ranking.engine import merge_scans, prepare_queries, scan_shard
from vprmetrics.ranking.facts import RankingFacts
from vprmetrics.ranking.state import QueryState, ShardScan

__all__ = [
    "RowRange",
    "ShardedRows",
    "database_shards",
    "open_shard",
    "rank_sharded",
    "split_rows",
]


@dataclass(frozen=True)
class RowRange:
    """Rows ``start .. stop`` of the ``.npy`` file ``path`` (a shard of one large file)."""

    path: str
    start: int
    stop: int

    def __str__(self) -> str:
        return f"{self.path}[{self.start}:{self.stop}]"


Shard = np.ndarray | str | os.PathLike | RowRange


def open_shard(shard: Shard, i: int) -> np.ndarray:
    """The rows of one shard (a memory map for paths; nothing is read yet)."""
    if isinstance(shard, RowRange):
        return load_npy(Path(shard.path), f"database shard {i}")[shard.start : shard.stop]
    if isinstance(shard, str | os.PathLike):
        return load_npy(Path(shard), f"database shard {i}")
    return shard


def database_shards(paths: Sequence[str | os.PathLike]) -> list[Shard]:
    """The shards a user names: one ``.npy``, several ``.npy`` files in the order given,
    or one folder of ``*.npy`` files in name order (as path strings).

    >>> database_shards([])  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    vprmetrics.errors.InputError: no database given
    """
    if not paths:
        raise InputError("no database given; give one .npy, several .npy shards, or a folder")
    files: list[Shard] = []
    for name in paths:
        p = Path(name)
        if "\0" not in os.fspath(name) and p.is_dir():
            found = sorted(p.glob("*.npy"))
            if not found:
                raise InputError(f"database folder {str(p)!r} holds no .npy shard; check the path")
            files.extend(str(regular_file(f, "database shard")) for f in found)
        else:  # a one-line error for a missing file, a device, a NUL byte in the name
            files.append(str(regular_file(name, "database file")))
    return files


def split_rows(shard: Shard, parts: int) -> list[Shard]:
    """``shard`` cut into ``parts`` near-equal row ranges (:class:`RowRange` s of a path,
    views of an array), so that several workers can scan one file.

    >>> [str(r) for r in split_rows(RowRange("d.npy", 0, 5), 2)]
    ['d.npy[0:2]', 'd.npy[2:5]']
    """
    if isinstance(shard, RowRange):
        path, start, stop = shard.path, shard.start, shard.stop
    elif isinstance(shard, str | os.PathLike):
        path, start = str(shard), 0
        stop = check_shape(open_shard(shard, 0), "database").shape[0]
    else:
        cuts = np.linspace(0, len(shard), min(parts, len(shard)) + 1).astype(int)
        return [shard[a:b] for a, b in itertools.pairwise(cuts)]
    cuts = np.linspace(start, stop, min(parts, stop - start) + 1).astype(int)
    return [RowRange(path, int(a), int(b)) for a, b in itertools.pairwise(cuts)]


class ShardedRows:
    """Read-only row view over shards: ``shape``, ``dtype`` and row gathers ``view[ids]``
    (what the positives pass needs), without concatenating the shards. ``sources`` keeps
    the shards as given (paths stay paths, so workers can open them)."""

    def __init__(self, shards: Sequence[np.ndarray], sources: Sequence[Shard] | None = None):
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
        self.sources = list(sources) if sources is not None else list(shards)
        self.offsets = np.cumsum([0] + [s.shape[0] for s in shards])
        self.shape = (int(self.offsets[-1]), dims.pop())
        self.dtype = dtypes.pop()
        self.ndim = 2

    @classmethod
    def open(cls, sources: Sequence[Shard]) -> ShardedRows:
        opened = [
            check_shape(open_shard(s, i), f"database shard {i}") for i, s in enumerate(sources)
        ]
        return cls(opened, sources)

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


def scan_one(
    state: QueryState, shard: Shard, index: int, offset: int, block_size: int | None
) -> ShardScan:
    """Scan one shard (opened where this runs: on a worker, a path is read there)."""
    return scan_shard(
        state, open_shard(shard, index), offset, block_size=block_size, progress=False
    )


def rank_sharded(
    queries: np.ndarray,
    shards: Sequence[Shard] | ShardedRows,
    positives: Positives,
    *,
    metric: str = "l2",
    k: int = 20,
    tie_rtol: float = 1e-9,
    backend: str = "numpy",
    block_size: int | None = None,
    client=None,
    retries: int = 1,
    progress: bool | None = None,
) -> RankingFacts:
    """The ranking facts of ``queries`` against the concatenation of ``shards``.

    ``positives`` uses global database ids (shard 0 first). ``client`` is an optional
    ``dask.distributed.Client``: each shard is then scanned by a worker, a failed shard is
    retried ``retries`` times (:func:`vprmetrics.ranking.distributed.scan_on_cluster`).
    """
    view = shards if isinstance(shards, ShardedRows) else ShardedRows.open(shards)
    state = prepare_queries(
        queries, view, positives, metric=metric, k=k, tie_rtol=tie_rtol, backend=backend
    )
    offsets = [int(o) for o in view.offsets[:-1]]
    if client is None:
        scans = [
            scan_one(state, s, i, o, block_size)
            for i, (s, o) in enumerate(zip(view.shards, offsets, strict=True))
        ]
    else:
        from vprmetrics.ranking.distributed import scan_on_cluster

        scans = scan_on_cluster(
            client, scan_one, state, view.sources, offsets, block_size, retries=retries,
            progress=progress,
        )  # fmt: skip
    return merge_scans(state, scans)
