"""Cross-view losses against hand computations; the count of in-batch triplets."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_models.training.crossview_losses import (
    cross_distances,
    in_batch_triplets,
    max_margin_triplet,
    weighted_soft_margin_triplet,
)


def _unit(x):
    return torch.nn.functional.normalize(torch.tensor(x, dtype=torch.float32), dim=1)


def _triplets(b):
    """(direction, anchor, negative) of every in-batch triplet, enumerated."""
    return [(d, i, j) for d in ("g2a", "a2g") for i in range(b) for j in range(b) if i != j]


def test_soft_margin_by_hand_as_cvm_net_code():
    g = _unit([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    a = _unit([[0.8, 0.6], [0.0, 1.0], [1.0, 1.0]])
    dot = lambda u, v: sum(float(x) * float(y) for x, y in zip(u, v, strict=True))  # noqa: E731
    d = [[2 - 2 * dot(g[i], a[j]) for j in range(3)] for i in range(3)]
    # CVM-Net: sum over the whole B x B matrix (diagonal terms are ln 2) / B(B-1), per side
    g2a = sum(math.log(1 + math.exp(10 * (d[i][i] - d[i][j]))) for i in range(3) for j in range(3))
    a2g = sum(math.log(1 + math.exp(10 * (d[j][j] - d[i][j]))) for i in range(3) for j in range(3))
    expected = (g2a / 6 + a2g / 6) / 2
    assert float(weighted_soft_margin_triplet(g, a)) == pytest.approx(expected, rel=1e-5)


def test_max_margin_by_hand():
    g = _unit([[1.0, 0.0], [0.0, 1.0]])
    a = _unit([[1.0, 1.0], [1.0, 0.0]])
    d = cross_distances(g, a).tolist()
    m = 0.2
    terms = [
        max(0.0, d[0][0] - d[0][1] + m),
        max(0.0, d[1][1] - d[1][0] + m),  # g2a
        max(0.0, d[0][0] - d[1][0] + m),
        max(0.0, d[1][1] - d[0][1] + m),
    ]  # a2g
    assert float(max_margin_triplet(g, a, m)) == pytest.approx(sum(terms) / 4, rel=1e-6)


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 9))
def test_in_batch_triplet_count_both_directions(b):
    assert in_batch_triplets(b) == len(_triplets(b)) == 2 * b * (b - 1)
    # with a margin so large that every term is active, the loss is the mean of the
    # enumerated terms: it averages exactly 2 B (B - 1) triplets
    torch.manual_seed(b)
    g, a = _unit(torch.randn(b, 4).tolist()), _unit(torch.randn(b, 4).tolist())
    d = cross_distances(g, a)
    terms = [
        (d[i, i] - d[i, j] if side == "g2a" else d[i, i] - d[j, i]) + 10.0
        for side, i, j in _triplets(b)
    ]
    assert float(max_margin_triplet(g, a, 10.0)) == pytest.approx(float(sum(terms) / len(terms)))


def test_soft_margin_gradient_pulls_pairs_together():
    torch.manual_seed(0)
    g = torch.randn(4, 8, requires_grad=True)
    a = torch.randn(4, 8)
    unit = torch.nn.functional.normalize
    loss = weighted_soft_margin_triplet(unit(g, dim=1), unit(a, dim=1))
    loss.backward()
    with torch.no_grad():
        after = weighted_soft_margin_triplet(unit(g - 0.1 * g.grad, dim=1), unit(a, dim=1))
    assert after < loss
