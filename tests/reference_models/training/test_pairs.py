"""The geographic pair rule of the Siamese model and its checkpointable sampler."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reference_models.models.siamese import SiameseNet  # noqa: E402
from reference_models.training.pairs import (  # noqa: E402
    PairMiner,
    geographic_pairs,
    init_pair_head,
    precise_batchnorm,
)
from vprmetrics.errors import InputError  # noqa: E402


def test_geographic_pairs_nearest_and_kth():
    db = np.stack([np.arange(10) * 10.0, np.zeros(10)], axis=1)
    q = np.array([[31.0, 0.0]])
    pos, neg = geographic_pairs(q, db, negative_rank=3)
    assert pos.tolist() == [3] and neg.tolist() == [2]  # distances 1, 9, 11 -> 3rd is 11 m
    pos, neg = geographic_pairs(q, db, negative_rank=100)  # past the end: the farthest
    assert neg.tolist() == [9]
    pairs = PairMiner(db, q, negative_rank=3).pairs(np.array([0]))
    assert [a.tolist() for a in pairs] == [[0, 0], [3, 2], [1.0, 0.0]]


def test_pair_miner_state_round_trip_and_tiny_database():
    db = np.stack([np.arange(10) * 10.0, np.zeros(10)], axis=1)
    miner = PairMiner(db, db[::2] + 1.0, negative_rank=3, seed=4)
    state = miner.state_dict()
    first = miner.sample_queries(3)
    miner.load_state_dict(state)
    assert miner.sample_queries(3).tolist() == first.tolist()
    assert miner.sample_queries(50).tolist() == list(range(5))  # all of them, sorted
    with pytest.raises(InputError, match="at least 2"):
        geographic_pairs(db[:1], db[:1])


def test_positive_faces_the_query_way():
    # two views at every position 10 m apart: facing 180 degrees at x, facing 0 at x - 0.3
    xs = np.stack([np.arange(10) * 10.0, np.arange(10) * 10.0 - 0.3], axis=1).reshape(-1)
    db = np.stack([xs, np.zeros(20)], axis=1)
    headings = np.tile([180.0, 0.0], 10)
    q, qh = np.array([[31.0, 0.0], [49.0, 0.0]]), np.array([10.0, 190.0])
    facing = dict(query_headings=qh, database_headings=headings, max_heading_deg=45.0)
    pos, neg = geographic_pairs(q, db, negative_rank=5, **facing)
    plain, plain_neg = geographic_pairs(q, db, negative_rank=5)
    assert plain.tolist() == [6, 11]  # the nearest views face away from the queries
    assert pos.tolist() == [7, 10]  # the nearest facing the query's way
    assert neg.tolist() == plain_neg.tolist()  # negatives whatever their heading
    # no query heading: the nearest of all; no database view facing the query: the nearest
    assert geographic_pairs(q, db, 5, **dict(facing, query_headings=None))[0].tolist() == [6, 11]
    away = dict(facing, query_headings=np.array([90.0, 90.0]))
    assert geographic_pairs(q, db, 5, **away)[0].tolist() == [6, 11]
    assert PairMiner(db, q, 5, **facing).positive.tolist() == [7, 10]


def test_positive_facing_the_query_beyond_the_nearest_candidates():
    # 100 views facing away around the query, the only facing one 50 m off: still found
    db = np.concatenate([np.random.default_rng(0).normal(0, 1, (100, 2)), [[50.0, 0.0]]])
    headings = np.r_[np.full(100, 180.0), 0.0]
    pos, _ = geographic_pairs(
        np.zeros((1, 2)),
        db,
        query_headings=np.zeros(1),
        database_headings=headings,
        max_heading_deg=45.0,
    )
    assert pos.tolist() == [100]


class _Store:
    """Image store stand-in: image i is a 1x1 picture of value i."""

    def batch(self, ids):
        return torch.tensor(ids, dtype=torch.float32).reshape(-1, 1, 1, 1).expand(-1, 3, 1, 1)


def test_init_pair_head_calibrates_a_distance():
    db = np.stack([np.arange(40) * 10.0, np.zeros(40)], axis=1)
    miner = PairMiner(db, db[:20] + 1.0, negative_rank=10)
    torch.manual_seed(0)
    model = SiameseNet(torch.nn.Flatten(1), feature_dim=3, hidden_dim=8)
    stores = {"train_q": _Store(), "train_db": _Store()}
    init_pair_head(model, miner, stores, torch.device("cpu"), np.random.default_rng(0))
    q, dbi, _ = miner.pairs(np.sort(np.random.default_rng(0).choice(20, 16, replace=False)))
    d = (stores["train_q"].batch(q.tolist()) - stores["train_db"].batch(dbi.tolist())).abs()
    z = model.head(d.flatten(1)).squeeze(1).detach()
    torch.testing.assert_close((z.mean(), z.std()), (torch.tensor(0.0), torch.tensor(1.0)))
    # the logit falls as the features move apart, in every dimension
    base = torch.full((1, 3), 0.5)
    for i in range(3):
        farther = base.clone()
        farther[0, i] += 1.0
        assert model.head(farther) < model.head(base)


def test_precise_batchnorm_averages_the_training_batches():
    db = np.stack([np.arange(40) * 10.0, np.zeros(40)], axis=1)
    miner = PairMiner(db, db[:20] + 1.0, negative_rank=10, seed=3)
    norm = torch.nn.BatchNorm2d(3)
    model = SiameseNet(torch.nn.Sequential(norm, torch.nn.Flatten(1)), feature_dim=3)
    norm.running_mean.fill_(100.0)  # stale statistics of earlier weights
    stores = {"train_q": _Store(), "train_db": _Store()}
    state = miner.state_dict()
    precise_batchnorm(model, miner, stores, batch_size=4, device=torch.device("cpu"), batches=3)
    miner.load_state_dict(state)  # the same batches again, by hand: each batch's mean
    means = []
    for _ in range(3):
        queries = miner.sample_queries(4)
        values = np.concatenate([queries, miner.pairs(queries)[1]])
        means.append(values.mean())
    torch.testing.assert_close(norm.running_mean, torch.full((3,), float(np.mean(means))))
    assert norm.momentum == 0.1 and model.training
