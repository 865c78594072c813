"""In-batch place sampling: the pair rule from positions and headings, and the sampler."""

import numpy as np
import pytest

pytest.importorskip("torch")

from reference_models.training.places import PlaceSampler, place_pair_masks
from vprmetrics.errors import InputError


def test_place_pair_masks_use_radius_and_heading():
    xy = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 3.0], [40.0, 0.0], [15.0, 0.0]])
    heads = np.array([90.0, 100.0, 270.0, 90.0, 90.0])
    pos, neg = place_pair_masks(xy, heads, 10.0, 25.0, max_heading_deg=45.0)
    assert pos[0].tolist() == [False, True, False, False, False]  # 2 looks the other way
    assert neg[0].tolist() == [False, False, False, True, False]  # 15 m: neither
    assert (pos == pos.T).all() and not (pos & neg).any() and not pos.diagonal().any()
    pos, _ = place_pair_masks(xy, heads, 10.0, 25.0)  # no heading rule
    assert pos[0].tolist() == [False, True, True, False, False]


def test_place_sampler_batches_hold_real_places(line):
    db, q = line
    db_h = np.where(np.arange(len(db)) % 2 == 0, 90.0, 270.0)
    q_h = db_h[::4] + 3.0
    sampler = PlaceSampler(db, q, db_h, q_h, places=4, per_place=4, max_heading_deg=45.0, seed=1)
    state = sampler.state_dict()
    items = sampler.sample()
    assert items.shape == (16,)
    pool = np.concatenate([db, q])
    heads = np.concatenate([db_h, q_h])
    for p in range(4):
        anchor, first, *rest = items[4 * p : 4 * p + 4]
        assert anchor >= len(db) and first < len(db)  # a query and a database image
        for other in (first, *rest):
            assert np.linalg.norm(pool[other] - pool[anchor]) <= 10.0
            assert abs(heads[other] - heads[anchor]) <= 45.0
    pos, neg = sampler.masks(items)
    assert pos[0, 1] and pos.sum() >= 4 * 3 * 2 // 2 and neg.any()
    sampler.load_state_dict(state)
    assert sampler.sample().tolist() == items.tolist()


def test_heading_rule_wraps_at_360():
    xy = np.zeros((3, 2))
    pos, _ = place_pair_masks(xy, np.array([359.0, 1.0, 180.0]), max_heading_deg=45.0)
    assert pos.astype(int).tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 0]]


def test_place_sampler_checks_its_layout(line):
    db, q = line
    with pytest.raises(InputError, match="per_place >= 2"):
        PlaceSampler(db, q, per_place=1)
    with pytest.raises(InputError, match="no training query"):
        PlaceSampler(db, q + 1000.0)
