"""The float32 error margin is a true bound, and exact distances are position independent."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vprmetrics.ranking.distances import float32_margin, ties
from vprmetrics.ranking.exact import exact_distances
from vprmetrics.ranking.tiles import chunked_scores, make_block, prepare_query_rows, tile_scorer


def _float32_distances(q, x, metric, backend, chunk=None):
    """The engine's approximate distances, built as ``scan_tile`` builds them: the float32
    tile (or the float64 sum of chunked float32 tiles), then the block's float64 column,
    then the query shift."""
    _, q32, shift, _, _ = prepare_query_rows(q, metric, backend)
    blk = make_block(x, metric, backend)
    if chunk is not None:
        d = chunked_scores(q32, blk.x32, chunk)
    else:
        d = tile_scorer(backend, metric)(q32, blk.x32).astype(np.float64)
    if blk.column is not None:
        d += blk.column
    return d + shift[:, None]


BACKENDS = ["numpy"] + (["faiss"] if importlib.util.find_spec("faiss") else [])


@given(
    st.integers(1, 600),
    st.sampled_from(["l2", "ip", "cosine"]),
    st.sampled_from(["gauss", "offset", "cancel", "mixed-scale", "tiny"]),
    st.integers(0, 2**31 - 1),
    st.sampled_from(BACKENDS),
    st.sampled_from([np.float64, np.float32]),
    st.sampled_from([None, 1, 7, 64]),
)
def test_float32_margin_bounds_the_gemm_error(dim, metric, kind, seed, backend, dtype, chunk):
    if chunk is not None:
        backend = "numpy"  # the engine chunks only numpy's GEMM
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(40, dim))
    q = rng.normal(size=(7, dim))
    if kind == "offset":  # UTM-like magnitudes: large common offset, small differences
        x += 1e4
        q += 1e4
    elif kind == "cancel":  # q.x close to zero: the worst relative case for ip
        q = np.hstack([q[:, : dim // 2 + 1], -q[:, : dim // 2 + 1]])[:, :dim]
        x = np.hstack([x[:, : dim // 2 + 1], x[:, : dim // 2 + 1]])[:, :dim]
    elif kind == "mixed-scale":
        x *= 10.0 ** rng.integers(-6, 6, size=(40, 1))
    elif kind == "tiny":
        x *= 1e-39
        q *= 1e-39
    q, x = q.astype(dtype), x.astype(dtype)  # float32 rows are the GEMM operand as they are
    approx = _float32_distances(q, x, metric, backend, chunk)
    exact = np.array([exact_distances(np.repeat(qi[None], len(x), 0), x, metric) for qi in q])
    q_norm = np.ones(len(q)) if metric == "cosine" else np.linalg.norm(q, axis=1)
    x_max = 1.0 if metric == "cosine" else float(np.linalg.norm(x, axis=1).max())
    bound = float32_margin(dim, q_norm, x_max, metric, chunk) / 2  # the engine uses twice the bound
    assert np.all(np.abs(approx - exact) <= bound[:, None])


def test_margin_is_not_vacuous():
    """The bound is far below the typical gap between distinct distances of unit vectors."""
    assert float32_margin(4096, np.array([1.0]), 1.0, "l2")[0] < 3e-3
    assert float32_margin(256, np.array([1.0]), 1.0, "ip")[0] < 4e-5


def test_exact_distances_do_not_depend_on_batch_position():
    rng = np.random.default_rng(3)
    row = rng.normal(size=(1, 333))
    batch = np.vstack([rng.normal(size=(5, 333)), row, rng.normal(size=(9, 333)), row])
    q = rng.normal(size=(1, 333))
    for metric in ("l2", "ip", "cosine"):
        d = exact_distances(np.repeat(q, len(batch), 0), batch, metric)
        alone = exact_distances(q, row, metric)[0]
        assert d[5] == d[-1] == alone


@pytest.mark.parametrize(
    ("a", "b", "scale", "rtol", "tied"),
    [
        (1.0, 1.0, 1.0, 1e-9, True),
        (1.0, 1.0 + 5e-10, 1.0, 1e-9, True),
        (1.0, 1.0 + 2e-9, 1.0, 1e-9, False),
        (0.0, 1e-300, 1.0, 1e-9, True),  # near zero, relative to the operands' scale
        (0.0, 1e-300, 0.0, 1e-9, False),
        (-5.55e-17, -2.78e-17, 0.648, 1e-9, True),
        (1.0, 1.0, 1.0, 0.0, True),  # tie_rtol = 0: exact equality
        (1.0, np.nextafter(1.0, 2.0), 1.0, 0.0, False),
    ],
)
def test_ties_examples(a, b, scale, rtol, tied):
    assert bool(ties(np.array([a]), np.array([b]), rtol, np.array([scale]))[0]) is tied


@given(st.integers(1, 40), st.integers(0, 2**31 - 1), st.sampled_from([np.float32, np.float64]))
def test_fused_l2_pairs_equal_the_exact_distances_bitwise(dim, seed, dtype):
    from vprmetrics.ranking.exact import exact_pairs

    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(30, dim)) * 10.0 ** rng.integers(-3, 4)).astype(dtype)
    q = rng.normal(size=(4, dim)).astype(dtype)
    qi = np.sort(rng.integers(0, 4, 50))
    ids = rng.integers(0, 30, 50)
    want = exact_distances(q[qi], x[ids], "l2")
    assert np.array_equal(exact_pairs(q, x, qi, ids, "l2"), want)
