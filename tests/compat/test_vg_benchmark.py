"""The VG-benchmark drop-in returns the original's recalls and string on tie-free data,
from their dataset object or from plain arrays; read_utm parses VG file names."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vprmetrics as vm
from tests.compat.originals import VGTestDataset, vg_test_recalls
from vprmetrics.compat.vg_benchmark import compute_recalls, read_utm


def _world(seed: int, nq: int, n: int, dim: int):
    rng = np.random.default_rng(seed)
    database_utm = np.c_[584000 + 7.0 * np.arange(n), np.full(n, 4477000.0)]
    pick = rng.integers(0, n, size=nq)
    queries_utm = database_utm[pick] + rng.normal(0, 6, size=(nq, 2))
    database = rng.normal(size=(n, dim)).astype(np.float32)
    queries = (database[pick] + rng.normal(0, 1.0, size=(nq, dim))).astype(np.float32)
    return queries, database, queries_utm, database_utm


@given(
    seed=st.integers(0, 2**32 - 1),
    nq=st.integers(1, 30),
    n=st.integers(20, 150),
    dim=st.integers(2, 32),
)
@settings(max_examples=30)
def test_same_recalls_and_string_as_the_original_without_ties(seed, nq, n, dim):
    queries, database, q_utm, d_utm = _world(seed, nq, n, dim)
    eval_ds = VGTestDataset(d_utm, q_utm)
    expected, expected_str = vg_test_recalls(eval_ds, queries, database)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recalls, recalls_str = compute_recalls(eval_ds, queries, database)
    np.testing.assert_allclose(recalls, expected, rtol=0, atol=1e-12)
    assert recalls_str == expected_str
    assert isinstance(recalls, np.ndarray) and recalls.shape == (4,)


def test_plain_arrays_and_positives_give_the_same():
    queries, database, q_utm, d_utm = _world(1, 25, 100, 16)
    eval_ds = VGTestDataset(d_utm, q_utm)
    from_ds = compute_recalls(eval_ds, queries, database, [1, 5])
    from_lists = compute_recalls(list(eval_ds.get_positives()), queries, database, [1, 5])
    gt = vm.positives_within_radius(q_utm, d_utm, 25)
    from_positives = compute_recalls(gt, queries, database, [1, 5])
    assert from_ds[1] == from_lists[1] == from_positives[1]
    np.testing.assert_array_equal(from_ds[0], from_positives[0])


def test_ties_warn_and_return_the_stable_value():
    database = np.array([[0.0], [0.0], [3.0]], dtype=np.float32)
    queries = np.array([[0.2], [3.0]], dtype=np.float32)
    with pytest.warns(
        UserWarning, match=r"vprmetrics.compat.vg_benchmark: ties .* R@1 50\.00%-100\.00%"
    ):
        recalls, recalls_str = compute_recalls([[1], [2]], queries, database, [1, 2])
    assert recalls.tolist() == [50.0, 100.0]
    assert recalls_str == "R@1: 50.0, R@2: 100.0"


def _name(east: float, north: float) -> str:
    return f"@{east:.2f}@{north:.2f}@17@T@40.44@-79.99@p@@@@@@@@.jpg"


def test_read_utm_from_folder_paths_file_and_list(tmp_path):
    folder = tmp_path / "queries"
    (folder / "sub").mkdir(parents=True)
    names = [_name(584000.5, 4477000.25), _name(584010, 4477001), _name(1, 2)]
    (folder / names[0]).write_bytes(b"")
    (folder / names[1]).write_bytes(b"")
    (folder / "sub" / names[2]).write_bytes(b"")
    (folder / "notes.txt").write_text("not an image")
    got = read_utm(folder)
    order = sorted([str(folder / names[0]), str(folder / names[1]), str(folder / "sub" / names[2])])
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, read_utm(order))
    listing = tmp_path / "paths.txt"
    listing.write_text(f"{names[1]}\n\n{names[0]}\n")
    assert read_utm(listing).tolist() == [[584010.0, 4477001.0], [584000.5, 4477000.25]]


def test_read_utm_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="neither a folder of images nor a file"):
        read_utm(tmp_path / "missing")
    with pytest.raises(ValueError, match=r"no \.jpg/\.jpeg/\.png images found"):
        read_utm(tmp_path)
    with pytest.raises(ValueError, match="does not follow the VG name format"):
        read_utm(["IMG_0001.jpg"])
