"""search_tradeoff: Flat is exact, lossy indexes say so, memory is faiss's own size."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vprmetrics import InputError, Positives
from vprmetrics.report.tradeoff import (
    list_recall,
    parse_index,
    render_tradeoff_markdown,
    search_tradeoff,
)

faiss = pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def problem():
    """Continuous descriptors (no ties): 80 places x 25 views, queries near a place."""
    rng = np.random.default_rng(0)
    places = rng.standard_normal((80, 32)).astype(np.float32)
    place_of = np.repeat(np.arange(80), 25)
    database = places[place_of] + 0.6 * rng.standard_normal((2000, 32)).astype(np.float32)
    q_place = rng.integers(0, 80, 120)
    queries = places[q_place] + 0.9 * rng.standard_normal((120, 32)).astype(np.float32)
    gt = Positives.from_lists([np.flatnonzero(place_of == p)[:10] for p in q_place], 2000)
    return queries, database, gt


def _tradeoff(problem, *indexes, **kw):
    q, x, gt = problem
    return search_tradeoff(q, x, gt, indexes, recall_at=(1, 5, 10), threads=1, **kw)


def test_flat_gives_exactly_the_exact_numbers(problem):
    report = _tradeoff(problem, "Flat", recall_at_percent=(1, 2.5))
    exact, flat = report["indexes"]
    assert exact["index"].startswith("exact")
    assert 0 < exact["recall_at_n"]["1"] < 1  # a task where ranks matter
    assert flat["recall_at_n"] == exact["recall_at_n"]
    assert flat["recall_at_percent"] == exact["recall_at_percent"]
    assert not flat["lossy"] and set(flat["recall_loss_at_n"].values()) == {0.0}
    assert flat["pssr_mean"] is None and 0 < exact["pssr_mean"] <= 1
    assert "PSSR is undefined" in report["pssr"]
    assert report["k_searched"] == 50  # 2.5% of 2000


def test_a_lossy_index_loses_recall_and_the_report_says_so(problem):
    report = _tradeoff(problem, "PQ1x2np", "IVF64,Flat nprobe=64")
    exact, pq1, ivf_all = report["indexes"]
    assert pq1["lossy"] and pq1["recall_loss_at_n"]["1"] > 0.1
    loss = exact["recall_at_n"]["1"] - pq1["recall_at_n"]["1"]
    assert pq1["recall_loss_at_n"]["1"] == pytest.approx(loss)
    assert ivf_all["recall_at_n"] == exact["recall_at_n"]  # every list probed: exact again
    text = render_tradeoff_markdown(report)
    assert (
        f"- PQ1x2np: loses up to {100 * max(pq1['recall_loss_at_n'].values()):.2f} points" in text
    )
    assert "- IVF64,Flat nprobe=64: no recall lost" in text


def test_memory_agrees_with_faiss_sizes(problem):
    n, d = problem[1].shape
    report = _tradeoff(problem, "Flat", "PQ8np", "IVF16,PQ8np", "HNSW16")
    exact, flat, pq, ivfpq, hnsw = report["indexes"]
    header = 200  # faiss's serialised header and fields, bytes
    assert exact["index_bytes"] == n * d * 4
    assert 0 <= flat["index_bytes"] - n * d * 4 < header and flat["code_bytes"] == n * d * 4
    codebook = 256 * d * 4  # 8 sub-quantizers x 256 centroids x d/8 floats
    assert pq["code_bytes"] == n * 8
    assert 0 <= pq["index_bytes"] - (n * 8 + codebook) < header
    ivf_lists = n * (8 + 8)  # a code and an int64 id per vector
    assert 0 <= ivfpq["index_bytes"] - (ivf_lists + codebook + 16 * d * 4) < 2 * header + 16 * 32
    assert hnsw["index_bytes"] > n * d * 4 + n * 16 * 4  # vectors + at least the level-0 links
    for r in (flat, pq, ivfpq):
        assert r["build_s"] >= 0 and r["ms_per_query"] > 0


def test_bad_index_strings_are_one_line_errors(problem):
    with pytest.raises(InputError, match=r"faiss cannot build index 'IVF99999,Flat'"):
        _tradeoff(problem, "IVF99999,Flat")  # more lists than training rows
    with pytest.raises(InputError, match="faiss cannot build index 'Nonsense42'"):
        _tradeoff(problem, "Nonsense42")
    with pytest.raises(InputError, match="is not 'FACTORY' or 'FACTORY PARAMS'"):
        parse_index("IVF16,Flat nprobe=2 extra")
    with pytest.raises(InputError, match="at least one --index"):
        _tradeoff(problem)


def test_list_recall_by_hand():
    gt = Positives.from_lists([[1, 2], [], [0]], 4)
    ids = np.array([[3, 2, 1], [0, 1, 2], [-1, -1, -1]])
    assert list_recall(ids, gt, [1, 2, 3], "miss").tolist() == [0.0, 1 / 3, 1 / 3]
    assert list_recall(ids, gt, [1, 2, 3], "exclude").tolist() == [0.0, 0.5, 0.5]


@given(st.integers(1, 6), st.integers(1, 8), st.integers(1, 5), st.data())
def test_list_recall_matches_a_loop(nq, n, k, data):
    ids = np.array(data.draw(st.lists(st.lists(st.integers(-1, n - 1), min_size=k, max_size=k),
                                      min_size=nq, max_size=nq)))  # fmt: skip
    lists = [sorted(set(data.draw(st.lists(st.integers(0, n - 1), max_size=n)))) for _ in range(nq)]
    gt = Positives.from_lists(lists, n)
    for cut in range(1, k + 1):
        hits = [any(j >= 0 and j in lists[i] for j in ids[i, :cut]) for i in range(nq)]
        assert list_recall(ids, gt, [cut], "miss")[0] == pytest.approx(np.mean(hits))
