"""The geographic pair rule of the Siamese model and its checkpointable sampler."""

import numpy as np
import pytest

pytest.importorskip("torch")

from reference_models.training.pairs import PairMiner, geographic_pairs
from vprmetrics.errors import InputError


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
