"""Scanning database shards on a ``dask.distributed`` cluster, with retries and progress.

:func:`vprmetrics.ranking.shards.rank_sharded` sends the query state (queries, exact d*,
S, first tied positive) to every worker once, then one task per shard; each task returns
the shard's additive counts and exact top-k candidates, which the client merges. The
result does not depend on which worker scanned which shard, nor in which order they
finished: counts are integer sums and the top-k merge orders by (exact distance, index).

:func:`cluster_client` opens a client on a new local cluster (``workers``) or an existing
scheduler (``scheduler``, e.g. ``tcp://10.0.0.5:8786`` started with ``dask scheduler``);
every failure to reach it, and every shard that fails after its retries (a worker that
died, a file a worker cannot read), becomes one :class:`ClusterError` line.

>>> ClusterError("cannot reach the Dask scheduler").args[0]
'cannot reach the Dask scheduler'
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence

from vprmetrics.errors import InputError, VPRMetricsError, require
from vprmetrics.ranking.state import QueryState, ShardScan

__all__ = ["ClusterError", "cluster_client", "scan_on_cluster"]


class ClusterError(VPRMetricsError, RuntimeError):
    """The Dask cluster could not be reached, or a shard failed on it after its retries."""


def _distributed():
    return require("distributed", "distributed", "scanning shards on a Dask cluster")


@contextlib.contextmanager
def cluster_client(
    workers: int | None = None, scheduler: str | None = None, timeout_s: float = 10.0
) -> Iterator:
    """A ``distributed.Client``: on a new ``LocalCluster`` of ``workers`` single-threaded
    worker processes, or on the scheduler at ``scheduler``. Closed on exit."""
    if (workers is None) == (scheduler is None):
        raise InputError("give either workers (a local cluster) or scheduler (an address)")
    distributed = _distributed()
    if workers is not None:
        if isinstance(workers, bool) or int(workers) != workers or workers < 1:
            raise InputError(f"workers = {workers!r} must be a positive integer")
        with (
            distributed.LocalCluster(
                n_workers=int(workers),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=40,  # logging.ERROR: workers' chatter stays off the terminal
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = distributed.Client(scheduler, timeout=timeout_s)
    except (OSError, TimeoutError, ValueError) as err:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {scheduler!r} within {timeout_s:g} s "
            f"({type(err).__name__}); start one with 'dask scheduler' and give its address, "
            "e.g. tcp://HOST:8786"
        ) from None
    with client:
        try:
            client.wait_for_workers(1, timeout=timeout_s)
        except (OSError, TimeoutError) as err:
            raise ClusterError(
                f"the Dask scheduler at {scheduler!r} has no worker after {timeout_s:g} s "
                f"({type(err).__name__}); start some with 'dask worker {scheduler}'"
            ) from None
        yield client


def _bar(total: int, enabled: bool | None):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="shards", unit="shard", leave=False)


def _hold(state: QueryState) -> QueryState:
    return state


def scan_on_cluster(
    client,
    scan: Callable[..., ShardScan],
    state: QueryState,
    shards: Sequence,
    offsets: Sequence[int],
    block_size: int | None,
    *,
    retries: int = 1,
    progress: bool | None = None,
) -> list[ShardScan]:
    """One task ``scan(state, shard, index, offset, block_size)`` per shard on ``client``'s
    workers (:func:`vprmetrics.ranking.shards.scan_one`); the scans in shard order.

    A task that raises, or whose worker dies, is run again up to ``retries`` times (on
    another worker where one is left); after that the whole run stops with a
    :class:`ClusterError` naming the shard, and nothing is merged. An input error a
    worker finds in its shard (NaN, wrong dim) is raised as it is.
    """
    distributed = _distributed()
    # a task, not scattered data: the scheduler can recompute it if the workers holding
    # it die, and workers fetch it from each other
    remote_state = client.submit(_hold, state, pure=False)
    futures = [
        client.submit(scan, remote_state, s, i, o, block_size, pure=False, retries=retries)
        for i, (s, o) in enumerate(zip(shards, offsets, strict=True))
    ]
    index = {f.key: i for i, f in enumerate(futures)}
    scans: list[ShardScan | None] = [None] * len(futures)
    bar = _bar(len(futures), progress)
    try:
        for future in distributed.as_completed(futures):
            i = index[future.key]
            try:
                scans[i] = future.result()
            except VPRMetricsError:
                raise
            except Exception as err:
                reason = str(err).splitlines()[0] if str(err) else ""
                name = "in-memory rows" if hasattr(shards[i], "shape") else str(shards[i])
                raise ClusterError(
                    f"database shard {i} ({name}, from row {offsets[i]}) failed after "
                    f"{retries} retries: "
                    f"{type(err).__name__}: {reason}; check that every worker can read it "
                    "and has memory for one block, or add --retries"
                ) from None
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        for f in futures:
            f.cancel()
    done = [s for s in scans if s is not None]
    if len(done) != len(scans):  # as_completed returned without every shard
        raise ClusterError(f"{len(scans) - len(done)} database shards never finished; run again")
    return done
