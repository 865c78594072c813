"""The streaming engine against the brute-force float64 oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.oracle import oracle
from tests.helpers.strategies import problems
from vprmetrics import InputError, InputTypeError, Positives
from vprmetrics.ranking import engine, limits
from vprmetrics.ranking.engine import rank


def _check_against_oracle(queries, database, positives, metric, block_size, k):
    gt = Positives.from_lists(positives, database.shape[0])
    facts = rank(queries, database, gt, metric=metric, k=k, block_size=block_size)
    expected = oracle(queries, database, positives, metric, facts.tie_rtol, k)
    for q, e in enumerate(expected):
        got = (
            facts.closer[q],
            facts.tied_negatives[q],
            facts.tied_positives[q],
            facts.tied_negatives_before[q],
        )
        assert got == (e["L"], e["T"], e["S"], e["B"]), (q, got, e)
        assert facts.topk_ids[q].tolist() == e["topk"], (q, facts.topk_ids[q], e["topk"])
        assert facts.n_at_or_before_best[q] == (e["k_count"] if positives[q] else 0)
    return facts


@given(
    problems(),
    st.sampled_from(["l2", "ip", "cosine"]),
    st.sampled_from([None, 1, 2, 3, 7]),
    st.integers(1, 5),
)
def test_engine_matches_oracle(problem, metric, block_size, k):
    queries, database, positives = problem
    k = min(k, database.shape[0])
    _check_against_oracle(queries, database, positives, metric, block_size, k)


@given(problems(max_n=12), st.sampled_from(["l2", "ip", "cosine"]))
def test_engine_float32_inputs_match_oracle(problem, metric):
    queries, database, positives = problem
    q32, x32 = queries.astype(np.float32), database.astype(np.float32)
    _check_against_oracle(q32, x32, positives, metric, 5, 1)


@given(problems(max_n=16), st.sampled_from(["l2", "ip", "cosine"]), st.data())
def test_duplicated_database_rows_always_tie(problem, metric, data):
    """Copies of a database row get bitwise-equal distances and tie, whatever the blocking."""
    queries, database, _ = problem
    copies = data.draw(st.integers(2, 5))
    row = data.draw(st.integers(0, database.shape[0] - 1))
    db = np.vstack([database, np.repeat(database[row : row + 1], copies, axis=0)])
    gt = Positives.from_lists([[row]] * queries.shape[0], db.shape[0])
    facts = rank(
        queries, db, gt, metric=metric, k=1, block_size=data.draw(st.sampled_from([1, 3, None]))
    )
    # every copy is a negative tied with the best positive (the original row)
    assert np.all(facts.tied_negatives >= copies)


def test_large_magnitude_identical_vectors_tie_across_blocks():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(1, 256)).astype(np.float32) * 1000
    database = np.vstack(
        [rng.normal(size=(500, 256)).astype(np.float32), np.repeat(base, 40, axis=0)]
    )
    queries = base + rng.normal(size=(30, 256)).astype(np.float32)
    gt = Positives.from_lists([[500]] * 30, database.shape[0])
    for metric in ("l2", "ip", "cosine"):
        facts = rank(queries, database, gt, metric=metric, k=5, block_size=97)
        assert facts.tied_negatives.tolist() == [39] * 30
        assert facts.tied_negatives_before.tolist() == [0] * 30


def test_hand_checked_example():
    # database on a line; query at 1.0; item 1 and 2 identical at distance 0
    database = np.array([[0.0], [1.0], [1.0], [3.0], [1.0]])
    queries = np.array([[1.0]])
    facts = rank(queries, database, Positives.from_lists([[2, 3]], 5), k=4)
    assert facts.d_star.tolist() == [0.0]
    assert (facts.closer[0], facts.tied_negatives[0], facts.tied_positives[0]) == (0, 2, 1)
    assert facts.tied_negatives_before[0] == 1  # item 1 comes before item 2; item 4 after
    assert facts.topk_ids[0].tolist() == [1, 2, 4, 0]
    assert facts.topk_distances[0].tolist() == [0.0, 0.0, 0.0, 1.0]


def test_no_positive_query_has_zero_counts():
    facts = rank(np.zeros((2, 2)), np.eye(2), Positives.from_lists([[0], []], 2), k=1)
    assert facts.has_positive.tolist() == [True, False]
    assert np.isnan(facts.d_star[1])
    assert facts.tied_positives[1] == 0


def test_faiss_backend_agrees_with_numpy():
    pytest.importorskip("faiss")
    rng = np.random.default_rng(1)
    database = rng.integers(0, 3, size=(300, 8)).astype(np.float32)
    queries = rng.integers(0, 3, size=(40, 8)).astype(np.float32)
    gt = Positives.from_lists([rng.choice(300, 3, replace=False) for _ in range(40)], 300)
    for metric in ("l2", "ip", "cosine"):
        a = rank(queries, database, gt, metric=metric, k=10, block_size=64)
        b = rank(queries, database, gt, metric=metric, k=10, block_size=64, backend="faiss")
        assert a == b


def test_memmap_input(tmp_path):
    rng = np.random.default_rng(2)
    database = rng.normal(size=(200, 16)).astype(np.float32)
    np.save(tmp_path / "db.npy", database)
    mm = np.load(tmp_path / "db.npy", mmap_mode="r")
    queries = database[:10] + 0.01
    gt = Positives.from_lists([[i] for i in range(10)], 200)
    assert rank(queries, mm, gt, k=3, block_size=50) == rank(queries, database, gt, k=3)


@pytest.mark.parametrize(
    ("queries", "database", "error", "match"),
    [
        (np.zeros((2, 3)), np.zeros((4, 2)), InputError, "dim 3"),
        (np.zeros((2, 2), dtype=int), np.zeros((4, 2)), InputTypeError, "dtype int"),
        (np.array([[np.nan, 0.0], [0.0, 0.0]]), np.zeros((4, 2)), InputError, "NaN or inf"),
        (np.zeros((0, 2)), np.zeros((4, 2)), InputError, "empty"),
        (np.zeros(2), np.zeros((4, 2)), InputError, "expected \\(n, dim\\)"),
    ],
)
def test_bad_descriptors(queries, database, error, match):
    gt = Positives.from_lists([[0]] * max(1, len(queries)), 4)
    with pytest.raises(error, match=match):
        rank(queries, database, gt, k=1)


def test_bad_k_and_ground_truth():
    gt = Positives.from_lists([[0]], 4)
    with pytest.raises(InputError, match="exceeds the database size 4"):
        rank(np.zeros((1, 2)), np.zeros((4, 2)), gt, k=5)
    with pytest.raises(InputError, match="ground truth is for 1 queries x 4"):
        rank(np.zeros((2, 2)), np.zeros((4, 2)), gt, k=1)
    with pytest.raises(InputTypeError, match="Positives"):
        rank(np.zeros((1, 2)), np.zeros((4, 2)), [[0]], k=1)
    with pytest.raises(InputError, match="metric 'hamming'"):
        rank(np.zeros((1, 2)), np.zeros((4, 2)), gt, metric="hamming")


@pytest.mark.parametrize(
    "paths",
    [
        {"UNION_GEMM_RATIO": 0},  # positives pair by pair
        {"UNION_GEMM_RATIO": 10**9},  # positives by one GEMM on their union
        {"DENSE_TILE": 10**9},  # every tile is "dense": partition + separate closer pass
        {"POOL_START": 1, "POOL_MAX": 1, "POOL_KEEP_FACTOR": 1},  # pools truncated exactly
    ],
    ids=["pairs", "union-gemm", "dense-tiles", "pool-truncation"],
)
@given(
    problems(),
    st.sampled_from(["l2", "ip", "cosine"]),
    st.sampled_from([None, 1, 3, 7]),
    st.integers(1, 5),
)
def test_every_engine_path_matches_oracle(paths, problem, metric, block_size, k):
    """Force each internal path of the engine (they depend on sizes) and check the oracle."""
    from vprmetrics.ranking import limits

    queries, database, positives = problem
    saved = {name: getattr(limits, name) for name in paths}
    try:
        for name, value in paths.items():
            setattr(limits, name, value)
        _check_against_oracle(
            queries, database, positives, metric, block_size, min(k, len(database))
        )
    finally:
        for name, value in saved.items():
            setattr(limits, name, value)


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_pool_truncation_on_massive_ties(monkeypatch, metric):
    """A pool that overflows (every item ties) is resolved exactly: lowest ids first."""
    from vprmetrics.ranking import limits
    from vprmetrics.ranking.pool import CandidatePool

    monkeypatch.setattr(limits, "POOL_START", 1)
    monkeypatch.setattr(limits, "POOL_MAX", 1)
    monkeypatch.setattr(limits, "POOL_KEEP_FACTOR", 1)
    calls = []
    truncate = CandidatePool._truncate
    monkeypatch.setattr(
        CandidatePool, "_truncate", lambda self, *a: calls.append(1) or truncate(self, *a)
    )
    rng = np.random.default_rng(4)
    database = np.vstack([np.ones((60, 3)), rng.integers(2, 4, size=(40, 3))])[rng.permutation(100)]
    queries = np.vstack([np.ones((2, 3)), np.zeros((2, 3))])
    positives = [[5, 50], [], [7], [99]]
    _check_against_oracle(queries, database, positives, metric, 7, 3)
    assert calls, "the truncation path did not run"


def test_memory_stays_bounded_when_every_pair_needs_the_exact_band():
    """Collapsed high-dim descriptors put every pair in the float64 band; the re-decision
    must stream them (here all pairs at once would take 60,000 x 2048 x 8 B = 983 MB)."""
    import tracemalloc

    rng = np.random.default_rng(5)
    base = rng.normal(size=(1, 2048)).astype(np.float32)
    database = np.repeat(base, 300, axis=0)
    queries = np.repeat(base, 200, axis=0)
    gt = Positives.from_lists([[i] for i in range(200)], 300)
    tracemalloc.start()
    facts = rank(queries, database, gt, k=5)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert facts.tied_negatives.tolist() == [299] * 200
    assert facts.topk_ids[:, 0].tolist() == [0] * 200
    assert peak < 300 * 2**20, f"peak {peak / 2**20:.0f} MB"


@given(problems(max_n=20), st.sampled_from(["l2", "ip", "cosine"]), st.integers(1, 4))
def test_chunked_gemm_path_gives_identical_facts(problem, metric, k):
    """Forcing the inner-dimension chunked GEMM (from the second tile on) changes nothing."""
    queries, database, positives = problem
    k = min(k, database.shape[0])
    gt = Positives.from_lists(positives, database.shape[0])
    plain = rank(queries, database, gt, metric=metric, k=k, block_size=3)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(limits, "CHUNK_MIN_DIM", 0)
        mp.setattr(limits, "GEMM_CHUNK", 1)
        mp.setattr(limits, "CHUNK_BAND_SHARE", -1.0)
        mp.setattr(limits, "CHUNK_TARGET_SHARE", 0.0)
        chunked = rank(queries, database, gt, metric=metric, k=k, block_size=3)
    assert chunked == plain
    _check_against_oracle(queries, database, positives, metric, 3, k)


def test_weak_model_at_large_dim_switches_to_chunks_and_stays_exact(monkeypatch):
    rng = np.random.default_rng(0)
    db = rng.normal(size=(300, 2048)).astype(np.float32)
    q = rng.normal(size=(40, 2048)).astype(np.float32)
    gt = Positives.from_lists([[int(j)] for j in rng.integers(0, 300, 40)], 300)
    monkeypatch.setattr(limits, "CHUNK_BAND_SHARE", 1e-4)  # the probe's share here: ~0.5%
    calls = []
    real = engine.chunked_scores
    monkeypatch.setattr(engine, "chunked_scores", lambda *a: calls.append(1) or real(*a))
    chunked = rank(q, db, gt, metric="ip", k=5, block_size=50)
    assert len(calls) == 6  # every tile was scored in chunks
    monkeypatch.setattr(limits, "CHUNK_BAND_SHARE", np.inf)
    assert rank(q, db, gt, metric="ip", k=5, block_size=50) == chunked
