"""Group ranking (min over member pairs) against a brute-force oracle; groups of one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.oracle import distances, query_facts, scales, topk
from tests.helpers.strategies import problems
from vprmetrics import InputError, Positives
from vprmetrics.ranking import limits
from vprmetrics.ranking.engine import rank
from vprmetrics.ranking.groups import group_lims, rank_groups


def _labels(draw, n: int) -> np.ndarray:
    cuts = sorted(set(draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=n))) - {n})
    labels = np.zeros(n, dtype=np.int64)
    for c in cuts:
        labels[c:] += 1
    return labels


def _group_oracle(queries, database, qlab, xlab, positive_lists, metric, rtol, k):
    """Per query group: facts and top-k over database groups, from every member pair."""
    nqg, nxg = int(qlab.max()) + 1, int(xlab.max()) + 1
    out = []
    for a in range(nqg):
        best_d = [np.inf] * nxg
        best_s = [0.0] * nxg
        best_key = [None] * nxg
        for i in np.flatnonzero(qlab == a):
            d = distances(queries[i], database, metric)
            s = scales(queries[i], database, metric)
            for j in range(database.shape[0]):
                g = int(xlab[j])
                key = (d[j], j, i)  # exact minimiser: lowest database row, then query row
                if best_key[g] is None or key < best_key[g]:
                    best_key[g], best_d[g], best_s[g] = key, d[j], s[j]
        f = query_facts(np.array(best_d), best_s, list(positive_lists[a]), rtol)
        f["topk"] = topk(np.array(best_d), best_s, k, rtol)
        out.append(f)
    return out


@given(problems(max_n=16, max_q=6), st.sampled_from(["l2", "ip", "cosine"]), st.data())
def test_groups_match_the_oracle(problem, metric, data):
    queries, database, _ = problem
    xlab = _labels(data.draw, database.shape[0])
    qlab = _labels(data.draw, queries.shape[0])
    nqg, nxg = int(qlab.max()) + 1, int(xlab.max()) + 1
    positives = [
        sorted(set(data.draw(st.lists(st.integers(0, nxg - 1), max_size=nxg)))) for _ in range(nqg)
    ]
    k = data.draw(st.integers(1, nxg))
    block = data.draw(st.sampled_from([None, 1, 3]))
    gt = Positives.from_lists(positives, nxg)
    f = rank_groups(
        queries, database, gt, database_groups=xlab, query_groups=qlab, metric=metric, k=k,
        block_size=block,
    )  # fmt: skip
    for a, e in enumerate(_group_oracle(queries, database, qlab, xlab, positives, metric, 1e-9, k)):
        got = (f.closer[a], f.tied_negatives[a], f.tied_positives[a], f.tied_negatives_before[a])
        assert got == (e["L"], e["T"], e["S"], e["B"]), (a, got, e)
        assert f.topk_ids[a].tolist() == e["topk"], (a, f.topk_ids[a], e["topk"])
    assert f.n_database == nxg and f.n_queries == nqg


@given(
    problems(),
    st.sampled_from(["l2", "ip", "cosine"]),
    st.sampled_from([None, 1, 3]),
    st.integers(1, 5),
)
def test_groups_of_one_equal_single_items_exactly(problem, metric, block, k):
    queries, database, positives = problem
    n, nq = database.shape[0], queries.shape[0]
    k = min(k, n)
    gt = Positives.from_lists(positives, n)
    single = rank(queries, database, gt, metric=metric, k=k, block_size=block)
    grouped = rank_groups(
        queries, database, gt, database_groups=np.arange(n), query_groups=np.arange(nq),
        metric=metric, k=k, block_size=block,
    )  # fmt: skip
    assert grouped == single


def test_grouped_pool_paths_agree(monkeypatch):
    rng = np.random.default_rng(4)
    db = np.repeat(rng.integers(-1, 2, size=(30, 3)).astype(float), 4, axis=0)  # 30 x 4 cutouts
    q = rng.integers(-1, 2, size=(5, 3)).astype(float)
    xlab = np.repeat(np.arange(30), 4)
    gt = Positives.from_lists([[1, 2], [5], [7, 8, 9], [0], [29]], 30)
    want = rank_groups(q, db, gt, database_groups=xlab, k=6)
    for name, value in {"POOL_START": 1, "POOL_MAX": 1, "POOL_KEEP_FACTOR": 1}.items():
        monkeypatch.setattr(limits, name, value)
    assert rank_groups(q, db, gt, database_groups=xlab, k=6, block_size=5) == want


def test_tokyo_style_panoramas_count_distinct_groups():
    """12 cutouts per panorama: a panorama counts once, at its closest cutout."""
    rng = np.random.default_rng(0)
    db = rng.normal(size=(10 * 12, 8))
    q = db[[5, 40]] + 0.01  # near cutout 5 of panorama 0 and cutout 4 of panorama 3
    xlab = np.repeat(np.arange(10), 12)
    gt = Positives.from_lists([[0], [3]], 10)
    f = rank_groups(q, db, gt, database_groups=xlab, k=3)
    assert f.closer.tolist() == [0, 0] and f.topk_ids[:, 0].tolist() == [0, 3]
    assert len(set(f.topk_ids[0].tolist())) == 3  # distinct panoramas


def test_group_labels_must_be_consecutive():
    assert group_lims([0, 0, 1], 3, "g").tolist() == [0, 2, 3]
    with pytest.raises(InputError, match="consecutive"):
        group_lims([0, 1, 0], 3, "g")
    with pytest.raises(InputError, match="consecutive"):
        group_lims([1, 1, 2], 3, "g")
