"""The scale-out options of ``vprmetrics evaluate``: a database in shards, Dask workers.

    vprmetrics evaluate --queries Q.npy --database shards/ --workers 2 ...
    vprmetrics evaluate --queries Q.npy --database D.npy --scheduler tcp://HOST:8786 ...

``--database`` takes one ``.npy`` (memory-mapped), several ``.npy`` shards in order, or a
folder of them (name order). With ``--workers`` or ``--scheduler`` each shard is scanned
by a Dask worker (one ``.npy`` is cut into row ranges, two per worker at least); the
facts are bitwise those of a single-process run (docs/scale.md).
"""

from __future__ import annotations

import argparse
import math

from vprmetrics.checks import check_shape
from vprmetrics.errors import InputError
from vprmetrics.npyio import load_npy
from vprmetrics.ranking.facts import RankingFacts
from vprmetrics.ranking.shards import ShardedRows, database_shards, rank_sharded, split_rows

__all__ = ["add_scale_arguments", "open_database", "sharded_ranker"]

SHARD_ROWS = 1 << 18  # rows per shard when one .npy is cut for the workers


def add_scale_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scale-out (Dask, docs/scale.md)")
    where = g.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N", help="scan shards on N local workers")
    where.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler")
    g.add_argument("--retries", type=int, default=1, help="retries of a failed shard (1)")


def open_database(paths: list[str], args: argparse.Namespace):
    """A memory-mapped array for one ``.npy`` in a single process, else the shards' view."""
    sources = database_shards(paths)
    if len(sources) == 1 and args.workers is None and args.scheduler is None:
        return check_shape(load_npy(str(sources[0]), "database"), "database")
    return ShardedRows.open(sources)


def _split(database, n_workers: int) -> list:
    """The user's shard files as they are; one file (or an in-memory array) cut into
    equal row ranges, a multiple of ``n_workers`` of them, of about ``SHARD_ROWS`` rows."""
    sources = database.sources if isinstance(database, ShardedRows) else [database]
    if len(sources) > 1:
        return sources
    parts = n_workers * max(1, math.ceil(len(database) / (n_workers * SHARD_ROWS)))
    return split_rows(sources[0], parts)


def sharded_ranker(args: argparse.Namespace):
    """The ``ranker`` for :func:`vprmetrics.report.evaluation.evaluate`: the engine's
    ``rank`` for a single-process run on one array, else a sharded ranking (on a Dask
    cluster when ``--workers`` or ``--scheduler`` is given)."""
    if args.retries < 0:
        raise InputError(f"--retries {args.retries} must be 0 or more")
    distributed = args.workers is not None or args.scheduler is not None

    def ranker(queries, database, positives, **kw) -> RankingFacts:
        if ("database_groups" in kw or "query_groups" in kw) and (
            distributed or isinstance(database, ShardedRows)
        ):
            raise InputError(
                "group ranking (panoramas, query crops) runs in one process on one database "
                "array; drop --workers/--scheduler and give the database as one file"
            )
        if not distributed:
            if not isinstance(database, ShardedRows):
                from vprmetrics.ranking.engine import rank

                return rank(queries, database, positives, **kw)
            return rank_sharded(queries, database, positives, **kw)
        from vprmetrics.ranking.distributed import cluster_client

        with cluster_client(args.workers, args.scheduler) as client:
            n_workers = max(1, len(client.nthreads()))
            shards = _split(database, n_workers)
            return rank_sharded(
                queries, shards, positives, client=client, retries=args.retries, **kw
            )

    return ranker
