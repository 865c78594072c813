"""Sharded ranking gives exactly the facts of ranking the concatenated database."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.strategies import problems
from vprmetrics import InputError, Positives
from vprmetrics.ranking.engine import rank
from vprmetrics.ranking.shards import rank_sharded


@given(problems(), st.sampled_from(["l2", "ip", "cosine"]), st.data())
def test_any_split_gives_the_same_facts(problem, metric, data):
    queries, database, positives = problem
    n = database.shape[0]
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(1, n - 1)), max_size=3))) - {n})
    shards = np.split(database, cuts)
    gt = Positives.from_lists(positives, n)
    k = data.draw(st.integers(1, n))
    expected = rank(queries, database, gt, metric=metric, k=k)
    assert rank_sharded(queries, shards, gt, metric=metric, k=k, block_size=3) == expected


def test_npy_shards_and_bad_shards(tmp_path):
    rng = np.random.default_rng(0)
    database = rng.normal(size=(120, 8)).astype(np.float32)
    queries = database[:15] + 0.1
    gt = Positives.from_lists([[i, i + 1] for i in range(15)], 120)
    paths = []
    for i, part in enumerate(np.split(database, [50, 90])):
        paths.append(tmp_path / f"db{i}.npy")
        np.save(paths[-1], part)
    assert rank_sharded(queries, paths, gt, k=5) == rank(queries, database, gt, k=5)
    with pytest.raises(InputError, match="different dims"):
        rank_sharded(queries, [database[:60], database[60:, :4]], gt)
    with pytest.raises(InputError, match="no database shards"):
        rank_sharded(queries, [], gt)


def test_dask_local_cluster_gives_the_same_facts(tmp_path):
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(1)
    database = rng.integers(0, 3, size=(300, 6)).astype(np.float32)
    queries = rng.integers(0, 3, size=(25, 6)).astype(np.float32)
    gt = Positives.from_lists([rng.choice(300, 4, replace=False) for _ in range(25)], 300)
    np.save(tmp_path / "b.npy", database[100:])
    shards = [database[:100], tmp_path / "b.npy"]
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        got = rank_sharded(queries, shards, gt, k=10, client=client)
    assert got == rank(queries, database, gt, k=10)
