"""Each selection rule of the benchmark's triplet mining, and the miner that strings them."""

import numpy as np
import pytest

pytest.importorskip("torch")

from reference_models.training.triplets import (
    MiningConfig,
    TripletMiner,
    best_positive,
    full_candidates,
    nearest_negatives,
    partial_candidates,
    random_negatives,
)
from vprmetrics.errors import InputError


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


@pytest.mark.parametrize("method", ["full", "partial", "random"])
def test_miner_respects_radii(method, line):
    db, q = line
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


def test_miner_state_round_trip_repeats_the_next_draw(line):
    db, q = line
    miner = TripletMiner(db, q, MiningConfig("full", cache_refresh=3), seed=5)
    state = miner.state_dict()
    first = miner.sample_queries()
    miner.load_state_dict(state)
    assert miner.sample_queries().tolist() == first.tolist()


def test_triplet_miner_heading_rule():
    db = np.array([[0.0, 0.0], [0.0, 0.0], [100.0, 0.0], [200.0, 0.0]])
    db_h = np.array([90.0, 270.0, 90.0, 90.0])
    q, q_h = np.array([[1.0, 0.0]]), np.array([268.0])
    cfg = MiningConfig("random", negatives_per_query=2, max_heading_deg=45.0)
    miner = TripletMiner(db, q, cfg, database_headings=db_h, query_headings=q_h)
    assert miner.hard.of(0).tolist() == [1]  # the same spot looking the same way
    assert TripletMiner(db, q, MiningConfig("random", negatives_per_query=2)).hard.of(
        0
    ).tolist() == [0, 1]


def test_mining_config_checks_its_method(line):
    with pytest.raises(InputError, match="unknown mining"):
        MiningConfig("hardest")
    db, q = line
    with pytest.raises(InputError, match="no training query"):
        TripletMiner(db, q + 1000.0, MiningConfig())
