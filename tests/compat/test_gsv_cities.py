"""The gsv-cities drop-in gives the original's numbers and table on tie-free data, and the
exact value with one warning line where ties or a float16 index would change it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.compat.originals import gsv_get_validation_recalls
from vprmetrics.compat.gsv_cities import format_table, get_validation_recalls

K_VALUES = [1, 5, 10, 15, 20]


def _data(seed: int, nq: int, n: int, dim: int):
    rng = np.random.default_rng(seed)
    database = rng.normal(size=(n, dim)).astype(np.float32)
    pick = rng.integers(0, n, size=nq)
    queries = (database[pick] + rng.normal(0, 1.2, size=(nq, dim))).astype(np.float32)
    gt = [np.flatnonzero(np.abs(np.arange(n) - p) <= 2) for p in pick]  # places of 5 images
    return database, queries, gt


@given(
    seed=st.integers(0, 2**32 - 1),
    nq=st.integers(1, 30),
    n=st.integers(20, 120),
    dim=st.integers(2, 24),
)
@settings(max_examples=40)
def test_same_recalls_and_predictions_as_the_original_without_ties(seed, nq, n, dim):
    database, queries, gt = _data(seed, nq, n, dim)
    expected, predictions = gsv_get_validation_recalls(
        database, queries, K_VALUES, gt, print_results=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no tie: no warning
        got, got_predictions = get_validation_recalls(
            database, queries, K_VALUES, gt, print_results=False, return_predictions=True
        )
    assert got == expected
    assert list(got) == K_VALUES
    np.testing.assert_array_equal(got_predictions, predictions)


def test_prints_the_original_table(capsys):
    database, queries, gt = _data(3, 40, 200, 16)
    gsv_get_validation_recalls(database, queries, K_VALUES, gt, dataset_name="pitts30k_val")
    original = capsys.readouterr().out
    get_validation_recalls(database, queries, K_VALUES, gt, dataset_name="pitts30k_val")
    assert capsys.readouterr().out == original
    assert "Performances on pitts30k_val" in original


def test_table_by_hand():
    assert format_table([1, 10], [0.123456, 1.0], "Performances on x").splitlines() == [
        "+---------------------------+",
        "|     Performances on x     |",
        "+----------+-------+--------+",
        "|    K     |   1   |   10   |",
        "+----------+-------+--------+",
        "| Recall@K | 12.35 | 100.00 |",
        "+----------+-------+--------+",
    ]


def test_ties_warn_once_and_return_the_stable_value():
    # rows 0 and 1 are the same vector; the query's only positive is row 1
    database = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [9.0, 0.0]], dtype=np.float32)
    queries = np.array([[0.1, 0.0], [9.0, 0.1]], dtype=np.float32)
    gt = [np.array([1]), np.array([3])]
    with pytest.warns(UserWarning) as caught:
        got = get_validation_recalls(database, queries, [1, 2], gt, print_results=False)
    assert got == {1: 0.5, 2: 1.0}  # stable: row 0 comes first, so query 0 misses at 1
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "\n" not in message
    assert "R@1 50.00%-100.00%" in message and "stable" in message
    with pytest.warns(UserWarning, match="expected values R@1 75.00%"):
        expected = get_validation_recalls(
            database, queries, [1, 2], gt, print_results=False, ties="expected"
        )
    assert expected == {1: 0.75, 2: 1.0}


def test_float16_index_warning_names_the_value_it_would_give():
    # 1.0003 rounds to 1.0 in float16: the two database rows collapse into a tie
    database = np.array([[1.0, 0.0], [1.0003, 0.0], [4.0, 0.0]], dtype=np.float32)
    queries = np.array([[1.0003, 0.0]], dtype=np.float32)
    gt = [np.array([1])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert get_validation_recalls(database, queries, [1], gt, print_results=False) == {1: 1.0}
    with pytest.warns(
        UserWarning, match=r"float16 GPU index \(faiss_gpu=True\) would give R@1 0\.00%"
    ):
        got = get_validation_recalls(
            database, queries, [1], gt, print_results=False, faiss_gpu=True
        )
    assert got == {1: 1.0}


def test_gt_forms_padding_and_testing_mode():
    database, queries, gt = _data(5, 12, 30, 8)
    as_object = np.empty(len(gt), dtype=object)
    as_object[:] = gt
    as_lists = [g.tolist() for g in gt]
    first = get_validation_recalls(database, queries, [1, 40], as_object, print_results=False)
    assert first == get_validation_recalls(
        database, queries, [1, 40], as_lists, print_results=False
    )
    assert first[40] == 1.0  # k beyond the database: every query with a positive counts
    predictions = get_validation_recalls(database, queries, [1, 40], gt, testing=True)
    assert predictions.shape == (12, 40)
    assert (predictions[:, 30:] == -1).all()  # faiss pads with -1
    np.testing.assert_array_equal(
        np.sort(predictions[:, :30], axis=1), np.tile(np.arange(30), (12, 1))
    )


def test_a_query_without_positives_is_a_miss():
    database = np.eye(3, dtype=np.float32)
    got = get_validation_recalls(database, database, [1], [[0], [], [2]], print_results=False)
    assert got == {1: 2 / 3}


def test_bad_gt_says_what_to_give():
    database = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match=r"gt\[1\] holds index 7 outside the database \[0, 3\)"):
        get_validation_recalls(database, database, [1], [[0], [7], [2]], print_results=False)


def test_torch_tensors_cpu_and_cuda():
    torch = pytest.importorskip("torch")
    database, queries, gt = _data(7, 20, 80, 12)
    expected = get_validation_recalls(database, queries, K_VALUES, gt, print_results=False)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        r, q = torch.from_numpy(database).to(device), torch.from_numpy(queries).to(device)
        r.requires_grad_(True)
        got = get_validation_recalls(r, q, K_VALUES, [torch.from_numpy(g) for g in gt], False)
        assert got == expected, device
