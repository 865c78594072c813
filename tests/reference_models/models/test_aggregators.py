"""Aggregators: GeM, NetVLAD (+ k-means init), CRN/CRN2 masks, projections, on tiny inputs."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

from reference_models.models.aggregators import (  # noqa: E402
    CRN,
    CRN2,
    AvgPool,
    CRNNetVLAD,
    FCProjection,
    GeM,
    NetVLAD,
    PCAWhitening,
    init_netvlad_from_features,
    sample_local_descriptors,
)
from reference_models.models.registry import build_model  # noqa: E402
from vprmetrics.errors import InputError  # noqa: E402


def _naive_vlad(x, layer, mask=None):
    """Loop-over-clusters NetVLAD (Arandjelovic et al. CVPR 2016, eq. 4)."""
    x = F.normalize(x, dim=1)
    n, c = x.shape[:2]
    feats = x.reshape(n, c, -1)  # (N, C, HW)
    logits = torch.einsum("kc,nci->nki", layer.conv.weight[:, :, 0, 0], feats)
    assign = logits.softmax(dim=1)
    if mask is not None:
        assign = assign * mask.reshape(n, 1, -1)
    blocks = []
    for k in range(layer.num_clusters):
        resid = feats - layer.centroids[k][None, :, None]
        v = (assign[:, k : k + 1] * resid).sum(dim=2)
        blocks.append(F.normalize(v, dim=1))
    return F.normalize(torch.cat(blocks, dim=1), dim=1)


def test_gem_formula_and_p():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 3, 4)
    gem = GeM(8)
    assert gem.p.item() == 3.0 and gem.eps == 1e-6
    xn = F.normalize(x, dim=1).clamp(min=1e-6)
    expected = (xn**3).mean(dim=(2, 3)) ** (1 / 3)
    torch.testing.assert_close(gem(x), expected)
    assert not torch.allclose(gem(x).norm(dim=1), torch.ones(2))  # no L2 after pooling
    torch.testing.assert_close(AvgPool(8)(x), F.normalize(x, dim=1).mean(dim=(2, 3)))


def test_gem_after_a_3x3_average_pool_by_hand():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 3, 5)
    # the 3x3, stride-1 window mean by hand, the padding left out: same map size
    pooled = torch.zeros_like(x)
    for h in range(3):
        for w in range(5):
            pooled[:, :, h, w] = x[:, :, max(h - 1, 0) : h + 2, max(w - 1, 0) : w + 2].mean((2, 3))
    gem, plain = GeM(4, pre_pool=3), GeM(4)
    torch.testing.assert_close(gem(x), plain(pooled))
    assert not torch.allclose(gem(x), plain(x), atol=1e-3)  # the pooling changes the output
    with pytest.raises(InputError, match="odd"):
        GeM(4, pre_pool=2)


def test_avggem_model_is_resnet18_gem_with_the_pooling():
    torch.manual_seed(0)
    avg, gem = build_model("resnet18-avggem"), build_model("resnet18-gem")
    gem.load_state_dict(avg.state_dict())  # the same parameters, none added
    n_params = [sum(p.numel() for p in m.parameters()) for m in (avg, gem)]
    assert n_params[0] == n_params[1] and avg.aggregator.pre_pool == 3
    images = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        a, g = avg.eval()(images), gem.eval()(images)
        pooled = F.avg_pool2d(avg.backbone(images), 3, 1, 1, count_include_pad=False)
        by_hand = gem.aggregator(pooled)
    assert a.shape == g.shape == (2, 256)
    torch.testing.assert_close(a, by_hand)
    assert not torch.allclose(a, g, atol=1e-4)


def test_netvlad_matches_naive_and_is_normalised():
    torch.manual_seed(0)
    layer = NetVLAD(16, num_clusters=8)
    x = torch.randn(3, 16, 4, 5)
    out = layer(x)
    assert out.shape == (3, 16 * 8)
    torch.testing.assert_close(out, _naive_vlad(x, layer), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(3))
    blocks = out.reshape(3, 8, 16)  # cluster-major
    torch.testing.assert_close(blocks.norm(dim=2), torch.full((3, 8), 1 / math.sqrt(8)))
    assert sum(p.numel() for p in layer.parameters()) == 2 * 8 * 16
    assert layer.conv.bias is None


def _toy_descriptors(seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = np.eye(4)[:3] * 1.0
    points = np.concatenate([c + 0.05 * rng.standard_normal((40, 4)) for c in centres])
    return points.astype(np.float32), centres


def test_kmeans_init_rule_on_toy_set():
    points, true_centres = _toy_descriptors()
    layer = NetVLAD(4, num_clusters=3)
    alpha = init_netvlad_from_features(layer, points, seed=1)
    cents = layer.centroids.detach().numpy()
    # each true cluster is found (centres of unit-normalised points are close to the axes)
    unit = points / np.linalg.norm(points, axis=1, keepdims=True)
    for c in true_centres:
        members = unit[np.argmax(unit @ true_centres.T, axis=1) == np.argmax(c)]
        assert np.min(np.linalg.norm(cents - members.mean(axis=0), axis=1)) < 1e-4
    # alpha = -ln(0.01) / mean(top1 - top2 cosine similarity to the unit centroids)
    sims = unit @ (cents / np.linalg.norm(cents, axis=1, keepdims=True)).T
    top = np.sort(sims, axis=1)[:, ::-1]
    expected = -np.log(0.01) / np.mean(top[:, 0] - top[:, 1])
    assert alpha == pytest.approx(expected, rel=1e-5)
    weight = layer.conv.weight.detach()[:, :, 0, 0].numpy()
    np.testing.assert_allclose(
        weight, alpha * cents / np.linalg.norm(cents, axis=1, keepdims=True), rtol=1e-5
    )
    # deterministic for a seed
    other = NetVLAD(4, num_clusters=3)
    assert init_netvlad_from_features(other, points, seed=1) == alpha
    torch.testing.assert_close(other.centroids, layer.centroids)


def test_kmeans_init_finds_layer_inside_model_and_checks_shape():
    model = build_model("resnet18-netvlad")
    feats = torch.randn(200, 256)
    alpha = init_netvlad_from_features(model, feats, iterations=5)
    assert alpha > 0
    w = model.aggregator.conv.weight[:, :, 0, 0]
    torch.testing.assert_close(w.norm(dim=1), torch.full((64,), alpha), rtol=1e-4, atol=1e-4)
    with pytest.raises(InputError, match="expected"):
        init_netvlad_from_features(model, torch.randn(10, 256))


def test_sample_local_descriptors_then_init():
    model = build_model("resnet18-netvlad").train()
    images = torch.randn(3, 3, 64, 96)  # 4 x 6 = 24 locations per image
    desc = sample_local_descriptors(
        model.backbone, images, per_image=22, generator=torch.Generator().manual_seed(0)
    )
    assert desc.shape == (66, 256)
    torch.testing.assert_close(desc.norm(dim=1), torch.ones(66))
    assert model.backbone.training  # mode restored
    assert init_netvlad_from_features(model, desc, iterations=3) > 0
    with pytest.raises(InputError, match="locations"):
        sample_local_descriptors(model.backbone, images, per_image=25)


@pytest.mark.parametrize("size", [(4, 5), (5, 7), (3, 3)])
def test_crn_mask_shape(size):
    torch.manual_seed(0)
    x = torch.randn(2, 16, *size)
    for module in (CRN(16), CRN2(16)):
        mask = module(x)
        assert mask.shape == (2, 1, *size)
        assert (mask >= 0).all()


def test_crn_fixed_accumulation_is_ones_and_frozen():
    crn = CRN(16)
    acc = crn.head.accumulate
    assert torch.equal(acc.weight, torch.ones(1, 84, 1, 1)) and acc.bias.item() == 0.0
    assert not acc.weight.requires_grad and not acc.bias.requires_grad


@pytest.mark.parametrize("variant", ["crn", "crn2"])
def test_crn_mask_multiplies_assignment(variant):
    torch.manual_seed(0)
    agg = CRNNetVLAD(16, num_clusters=8, variant=variant)
    x = torch.randn(2, 16, 4, 5)
    mask = agg.crn(x)
    torch.testing.assert_close(agg(x), _naive_vlad(x, agg.netvlad, mask), rtol=1e-5, atol=1e-6)
    # a hand-made mask: constant masks do not change NetVLAD, spatial ones do
    plain = agg.netvlad(x)
    torch.testing.assert_close(agg.netvlad(x, mask=torch.full((2, 1, 4, 5), 3.0)), plain)
    spatial = torch.zeros(2, 1, 4, 5)
    spatial[..., :2, :] = 1.0
    torch.testing.assert_close(
        agg.netvlad(x, mask=spatial), _naive_vlad(x, agg.netvlad, spatial), rtol=1e-5, atol=1e-6
    )
    assert not torch.allclose(agg.netvlad(x, mask=spatial), plain)


def test_projections():
    torch.manual_seed(0)
    x = torch.randn(50, 12)
    fc = FCProjection(12, 4)
    torch.testing.assert_close(fc(x).norm(dim=1), torch.ones(50))
    pca = PCAWhitening(12, 4).fit(x)
    y = (x - x.mean(0)) @ pca.components.T
    torch.testing.assert_close(torch.cov(y.T), torch.eye(4), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(pca(x).norm(dim=1), torch.ones(50))
    model = build_model("resnet18-gem", pca_dim=8)
    assert model.descriptor_dim == 8 and model(torch.randn(1, 3, 64, 80)).shape == (1, 8)
