"""Each miner's selection rule, and the geographic pair rule of the Siamese model."""

import numpy as np
import pytest

pytest.importorskip("torch")

from reference_models.mining import (
    MiningConfig,
    TripletMiner,
    best_positive,
    full_candidates,
    nearest_negatives,
    partial_candidates,
    random_negatives,
)
from reference_models.siamese_training import PairMiner, geographic_pairs


def test_best_positive_is_nearest_in_feature_space_not_geography():
    q = np.array([0.0, 0.0])
    feats = np.array([[5.0, 0.0], [0.1, 0.0], [1.0, 1.0]])
    assert best_positive(q, np.array([7, 3, 9]), feats) == 3


def test_nearest_negatives_are_sorted_by_distance():
    q = np.array([0.0])
    feats = np.array([[3.0], [1.0], [-2.0], [0.5]])
    assert nearest_negatives(q, np.array([10, 11, 12, 13]), feats, 3).tolist() == [13, 11, 12]


def test_full_candidates_drop_soft_positives_and_keep_previous():
    rng = np.random.default_rng(0)
    soft = np.array([0, 1, 2, 3])
    cand = full_candidates(rng, 20, soft, np.array([15, 16, -1]), sample_size=10)
    assert not set(cand) & set(soft)
    assert {15, 16} <= set(cand)
    assert len(cand) == len(set(cand))


def test_partial_candidates_are_shared_sample_minus_soft_positives():
    shared = np.array([1, 4, 6, 9])
    assert partial_candidates(shared, np.array([4, 9, 11])).tolist() == [1, 6]


def test_random_negatives_avoid_soft_positives():
    rng = np.random.default_rng(1)
    negs = random_negatives(rng, 12, np.arange(8), 3)
    assert len(set(negs)) == 3 and negs.min() >= 8
    # fewer non-positives than asked: drawn again from the few there are
    assert set(random_negatives(rng, 10, np.arange(9), 4)) == {9}


def _line(n_db=40, step=5.0):
    db = np.stack([np.arange(n_db) * step, np.zeros(n_db)], axis=1) + np.array([500000.0, 4e6])
    q = db[::4] + np.array([1.0, 2.0])
    return db, q


@pytest.mark.parametrize("method", ["full", "partial", "random"])
def test_miner_respects_radii(method):
    db, q = _line()
    cfg = MiningConfig(method, negatives_per_query=4, negative_sample_size=15, cache_refresh=5)
    miner = TripletMiner(db, q, cfg, seed=0)
    feats = np.random.default_rng(0).normal(size=(len(db), 4)).astype(np.float32)
    qf = feats[::4] + 0.01
    queries = miner.sample_queries()
    assert len(queries) == 5
    triplets = miner.mine(queries, lambda i: qf[i], lambda i: feats[i])
    for t in triplets:
        d_pos = np.linalg.norm(db[t.positive] - q[t.query])
        assert d_pos <= 10.0
        # the best positive is the nearest in feature space among the 10 m positives
        hard = [i for i in range(len(db)) if np.linalg.norm(db[i] - q[t.query]) <= 10.0]
        dists = [np.sum((feats[i] - qf[t.query]) ** 2) for i in hard]
        assert t.positive == hard[int(np.argmin(dists))]
        assert len(t.negatives) == 4
        assert (np.linalg.norm(db[t.negatives] - q[t.query], axis=1) > 25.0).all()
        if method != "random":  # the negatives are the nearest of the candidates
            d_neg = np.sum((feats[t.negatives] - qf[t.query]) ** 2, axis=1)
            assert (np.diff(d_neg) >= 0).all()
    if method == "full":
        assert (miner.previous[queries] >= 0).all()


def test_miner_state_round_trip_repeats_the_next_draw():
    db, q = _line()
    miner = TripletMiner(db, q, MiningConfig("full", cache_refresh=3), seed=5)
    state = miner.state_dict()
    first = miner.sample_queries()
    miner.load_state_dict(state)
    assert miner.sample_queries().tolist() == first.tolist()


def test_geographic_pairs_nearest_and_kth():
    db = np.stack([np.arange(10) * 10.0, np.zeros(10)], axis=1)
    q = np.array([[31.0, 0.0]])
    pos, neg = geographic_pairs(q, db, negative_rank=3)
    assert pos.tolist() == [3] and neg.tolist() == [2]  # distances 1, 9, 11 -> 3rd is 11 m
    pos, neg = geographic_pairs(q, db, negative_rank=100)  # past the end: the farthest
    assert neg.tolist() == [9]
    pairs = PairMiner(db, q, negative_rank=3).pairs(np.array([0]))
    assert [a.tolist() for a in pairs] == [[0, 0], [3, 2], [1.0, 0.0]]
