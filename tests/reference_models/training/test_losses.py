"""Each loss against a value computed by hand from its formula."""

import math

import pytest

torch = pytest.importorskip("torch")

from reference_models.training.config import TrainConfig  # noqa: E402
from reference_models.training.losses import (  # noqa: E402
    ContrastiveLoss,
    MultiSimilarityLoss,
    MultiSimilarityMiner,
    TripletMarginLoss,
    avg_non_zero,
    build_loss,
    triplet_margin_loss,
)
from vprmetrics.errors import InputError  # noqa: E402

# unit vectors with S01 = 0.6, S02 = 0.8, S12 = 0.0; labels: 0 and 1 same place, 2 another
E = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.8, -0.6]])
LABELS = torch.tensor([0, 0, 1])
# orthogonal / identical vectors: d01 = sqrt(2), d02 = 0, d12 = sqrt(2)
F = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])


def test_benchmark_triplet_by_hand():
    a = torch.tensor([[0.0, 0.0]])
    p = torch.tensor([[1.0, 0.0]])
    n = torch.tensor([[[3.0, 0.0], [0.5, 0.0]]])
    # d_ap = 1; d_an = 3 and 0.5: [1 - 3 + 0.1]_+ = 0, [1 - 0.5 + 0.1]_+ = 0.6; mean 0.3
    assert triplet_margin_loss(a, p, n, margin=0.1, eps=0.0).item() == pytest.approx(0.3)


def test_benchmark_triplet_equals_torch_sum_over_count():
    g = torch.Generator().manual_seed(0)
    a, p = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
    n = torch.randn(4, 10, 8, generator=g)
    ours = triplet_margin_loss(a, p, n, margin=0.1)
    ref = (
        torch.nn.TripletMarginLoss(margin=0.1, reduction="sum")(
            a.repeat_interleave(10, 0), p.repeat_interleave(10, 0), n.reshape(40, 8)
        )
        / 40
    )
    assert ours.item() == pytest.approx(ref.item(), rel=1e-6)


def test_contrastive_by_hand():
    # positives (0,1),(1,0): [sqrt2 - 0]_+ each -> avg sqrt2
    # negatives (0,2),(2,0): [1 - 0]_+ = 1; (1,2),(2,1): [1 - sqrt2]_+ = 0 -> avg of non-zero 1
    loss = ContrastiveLoss(pos_margin=0.0, neg_margin=1.0)(F, LABELS)
    assert loss.item() == pytest.approx(math.sqrt(2) + 1.0, rel=1e-6)


def test_pml_triplet_by_hand():
    # (a,p,n) = (0,1,2): sqrt2 - 0 + 0.1; (1,0,2): sqrt2 - sqrt2 + 0.1 -> mean of the two
    loss = TripletMarginLoss(margin=0.1)(F, LABELS)
    assert loss.item() == pytest.approx((math.sqrt(2) + 0.2) / 2, rel=1e-6)


def test_multi_similarity_by_hand():
    a0 = math.log1p(math.exp(-0.6)) + math.log1p(math.exp(50 * 0.8)) / 50
    a1 = math.log1p(math.exp(-0.6)) + math.log(2.0) / 50
    a2 = math.log(1 + math.exp(40.0) + math.exp(0.0)) / 50
    loss = MultiSimilarityLoss(alpha=1.0, beta=50.0, base=0.0)(E, LABELS)
    assert loss.item() == pytest.approx((a0 + a1 + a2) / 3, rel=1e-5)


def test_multi_similarity_miner_rule():
    # anchor 0: max neg 0.8, min pos 0.6: keeps (0,1) (0.5 < 0.8) and (0,2) (0.9 > 0.6)
    # anchor 1: max neg 0.0: drops (1,0) (0.5 !< 0); min pos 0.6: drops (1,2) (0.1 !> 0.6)
    # anchor 2: no positive: keeps nothing
    pos, neg = MultiSimilarityMiner(epsilon=0.1)(E, LABELS)
    assert pos.nonzero().tolist() == [[0, 1]]
    assert neg.nonzero().tolist() == [[0, 2]]
    # PML returns 0 when at most one pair of each kind is left
    loss = MultiSimilarityLoss(1.0, 50.0, 0.0, MultiSimilarityMiner(0.1))(E, LABELS)
    assert loss.item() == 0.0


def test_masks_replace_labels_and_gradients_are_finite():
    x = F.clone().requires_grad_(True)
    pos = torch.zeros(3, 3, dtype=torch.bool)
    pos[0, 1] = pos[1, 0] = True
    neg = ~pos & ~torch.eye(3, dtype=torch.bool)
    for loss_fn in (ContrastiveLoss(), TripletMarginLoss(0.1), MultiSimilarityLoss()):
        a = loss_fn(x, LABELS) if not isinstance(loss_fn, TripletMarginLoss) else None
        b = loss_fn(x, masks=(pos, neg))
        b.backward()
        assert torch.isfinite(x.grad).all()
        x.grad = None
        if a is not None:
            assert torch.isfinite(a)


def test_avg_non_zero_of_all_zero_is_zero_with_graph():
    x = torch.zeros(3, requires_grad=True)
    out = avg_non_zero(torch.relu(x - 1))
    assert out.item() == 0.0 and out.requires_grad


def test_loss_options_reach_the_loss():
    loss = build_loss(TrainConfig(loss="multi-similarity", loss_options={"base": 0.5}))
    assert (loss.alpha, loss.beta, loss.base, loss.miner.epsilon) == (1.0, 50.0, 0.5, 0.1)
    assert build_loss(TrainConfig(loss="triplet", margin=0.3)).margin == 0.3
    contrastive = build_loss(TrainConfig(loss="contrastive"))
    assert (contrastive.pos_margin, contrastive.neg_margin) == (0.0, 1.0)
    with pytest.raises(InputError, match="do not fit"):
        build_loss(TrainConfig(loss="contrastive", loss_options={"base": 0.5}))
