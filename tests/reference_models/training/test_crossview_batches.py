"""The super-batch rule and the k-means search tree on constructed embeddings."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_models.training.crossview import random_batches, super_batches, triplet_shares
from reference_models.training.kmeans_tree import KMeansTree


def _clusters(n_clusters, per, dim=8, spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim)) * 5
    labels = np.repeat(np.arange(n_clusters), per)
    x = centres[labels] + spread * rng.standard_normal((labels.size, dim))
    perm = rng.permutation(labels.size)
    return x[perm], labels[perm]


def test_each_super_batch_is_one_cluster():
    x, labels = _clusters(8, 12)
    batches = super_batches(x, 12, branching=2, seed=1)
    assert len(batches) == 8
    assert all(len(set(labels[b])) == 1 for b in batches)
    assert sorted(np.concatenate(batches).tolist()) == list(range(96))


@settings(max_examples=15, deadline=None)
@given(st.integers(13, 80), st.integers(2, 12), st.integers(2, 5))
def test_super_batches_are_disjoint_full_batches(n, batch, k):
    x = np.random.default_rng(n).standard_normal((n, 3))
    batches = super_batches(x, batch, branching=k, seed=0)
    flat = np.concatenate(batches)
    assert len(batches) == n // batch and all(len(b) == batch for b in batches)
    assert len(set(flat.tolist())) == flat.size


def test_super_batches_raise_the_share_of_hard_triplets():
    # pairs whose ground and aerial descriptors sit near one of 8 look-alike centres
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((8, 16))
    labels = rng.integers(0, 8, 240)
    unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    g = unit(centres[labels] + 0.4 * rng.standard_normal((240, 16))).astype(np.float32)
    a = unit(centres[labels] + 0.4 * rng.standard_normal((240, 16))).astype(np.float32)
    emb = np.concatenate([g, a], axis=1)

    def hard(batches):
        return np.mean([sum(list(triplet_shares(g[b], a[b]).values())[:2]) for b in batches])

    supers = super_batches(emb, 12, branching=4, seed=0)
    randoms = random_batches(240, 12, 240, np.random.default_rng(0))
    assert hard(supers) > 2 * hard(randoms)


def test_tree_with_one_leaf_is_exhaustive():
    x = np.random.default_rng(0).standard_normal((50, 4))
    tree = KMeansTree(x, k=4, leaf_size=50)
    assert tree.depth() == 0
    assert sorted(tree.search(x[3]).tolist()) == list(range(50))


def test_tree_descends_to_the_nearest_centroid_and_buckets_partition():
    x, labels = _clusters(4, 10, spread=0.01)
    tree = KMeansTree(x, k=4, leaf_size=10, seed=0)
    assert tree.depth() == 1
    assert sorted(tree.leaf_order().tolist()) == list(range(40))
    for i in range(40):
        found = tree.search(x[i] + 0.001)
        assert i in found and set(labels[found]) == {labels[i]}


def test_tree_depth_grows_like_log_k_n():
    x = np.random.default_rng(0).standard_normal((256, 2))
    tree = KMeansTree(x, k=4, leaf_size=4, seed=0)
    assert 3 <= tree.depth() <= 8
    assert max(len(leaf) for leaf in tree.leaves()) <= 4


def test_tree_rejects_bad_shapes():
    with pytest.raises(Exception, match="k-means tree"):
        KMeansTree(np.zeros(5))
