"""Ground truth with unsorted or duplicated ids in a row scores like the sorted one."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from vprmetrics import Positives
from vprmetrics.metrics.retrieval import map_at_k
from vprmetrics.ranking.engine import rank


@given(st.lists(st.lists(st.integers(0, 9), max_size=8), min_size=1, max_size=6), st.randoms())
def test_rows_are_sorted_and_deduplicated_once(rows, rnd):
    shuffled = [rnd.sample(r, len(r)) for r in rows]
    lims = np.concatenate([[0], np.cumsum([len(r) for r in shuffled])])
    ids = np.array([i for r in shuffled for i in r], dtype=np.int64)
    gt = Positives(lims, ids, 10)
    assert [gt.of(q).tolist() for q in range(len(rows))] == [sorted(set(r)) for r in rows]


def test_unsorted_and_duplicated_ids_give_the_same_numbers():
    db = np.array([[0.0], [1.0], [2.0], [3.0]])
    q = np.array([[2.9], [0.1]])
    good = Positives(np.array([0, 2, 3]), np.array([1, 3, 0]), 4)
    messy = Positives(np.array([0, 3, 4]), np.array([3, 1, 3, 0]), 4)  # unsorted, duplicated
    assert (good.lims.tolist(), good.ids.tolist()) == (messy.lims.tolist(), messy.ids.tolist())
    f = rank(q, db, messy, k=1)
    assert map_at_k(f, messy, [1]) == {1: 1.0}
