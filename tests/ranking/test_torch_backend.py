"""backend="torch" gives bitwise the facts of the numpy backend (CPU here; CUDA unverified)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.strategies import problems
from vprmetrics import Positives
from vprmetrics.ranking.engine import rank

torch = pytest.importorskip("torch")


@given(problems(), st.sampled_from(["l2", "ip", "cosine"]), st.data())
def test_torch_facts_equal_numpy_facts(problem, metric, data):
    queries, database, positives = problem
    n = database.shape[0]
    gt = Positives.from_lists(positives, n)
    k = data.draw(st.integers(1, n))
    block = data.draw(st.sampled_from([None, 1, 5]))
    expected = rank(queries, database, gt, metric=metric, k=k, block_size=block)
    got = rank(queries, database, gt, metric=metric, k=k, block_size=block, backend="torch")
    assert got == expected


def test_torch_on_float32_data_full_of_near_ties():
    rng = np.random.default_rng(4)
    base = rng.standard_normal((40, 64)).astype(np.float32)
    database = base[rng.integers(0, 40, 3000)]  # duplicates: exact ties
    database[::7] += np.float32(1e-7)  # near ties, inside the float32 margin
    queries = base[:30] + np.float32(1e-3) * rng.standard_normal((30, 64)).astype(np.float32)
    gt = Positives.from_lists([rng.choice(3000, 5, replace=False) for _ in range(30)], 3000)
    for metric in ("l2", "ip", "cosine"):
        expected = rank(queries, database, gt, metric=metric, k=30, block_size=512)
        got = rank(queries, database, gt, metric=metric, k=30, block_size=512, backend="torch")
        assert got == expected
        assert expected.tied_negatives.sum() > 0


def test_matmul_precision_is_ieee_inside_and_restored_after():
    from vprmetrics.ranking.torch_backend import exact_float32

    matmul = torch.backends.cuda.matmul
    if not hasattr(matmul, "fp32_precision"):
        pytest.skip("torch < 2.9: the legacy settings are used")
    before = matmul.fp32_precision
    matmul.fp32_precision = "tf32"
    try:
        with exact_float32():
            assert matmul.fp32_precision == "ieee"
            assert torch.backends.mkldnn.matmul.fp32_precision == "ieee"
        assert matmul.fp32_precision == "tf32"
    finally:
        matmul.fp32_precision = before
