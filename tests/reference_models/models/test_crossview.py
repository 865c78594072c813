"""Cross-view models: parameter counts (meta device), shapes, frozen and shared layers."""

import pytest
import torch

from reference_models.models.accounting import count_parameters, describe_model
from reference_models.models.crossview import (
    CROSSVIEW_MODELS,
    BranchView,
    CVMNetI,
    CVMNetII,
    frozen_trunk_names,
)
from reference_models.models.registry import build_model, get_spec

PUBLISHED_M = {"cvm-net-i": 163.78, "cvm-net-ii": 166.86}


def _meta(name):
    with torch.device("meta"):
        return build_model(name)


@pytest.mark.parametrize("name", sorted(PUBLISHED_M))
def test_cvm_parameters_match_the_paper_within_0_1_percent(name):
    params = count_parameters(_meta(name))
    assert abs(params / 1e6 - PUBLISHED_M[name]) / PUBLISHED_M[name] < 1e-3
    assert params == {"cvm-net-i": 163_782_400, "cvm-net-ii": 166_860_480}[name]


def test_cvm_parameter_count_by_hand():
    vgg = 14_714_688
    vlad = 512 * 64 + 64 + 64 * 512  # loupe: cluster weights, biases, centroids
    assert count_parameters(_meta("cvm-net-i")) == 2 * vgg + 2 * vlad + 32768 * 4096 + 4096
    convs = 2 * (512 * 512 + 512) + (9 * 512 * 512 + 512) + (512 * 512 + 512)
    assert count_parameters(_meta("cvm-net-ii")) == 2 * vgg + convs + vlad + 32768 * 4096


@pytest.mark.parametrize("name", sorted(CROSSVIEW_MODELS))
def test_registered_as_cross_view_with_4096_d_descriptors(name):
    spec = get_spec(name)
    assert spec.task == "cross_view" and set(spec.inputs) == {"ground", "aerial"}
    stats = describe_model(name, input_size=(64, 256))
    assert stats.descriptor_dim == 4096
    assert describe_model(name, view="aerial", input_size=(64, 64)).descriptor_dim == 4096


def test_conv1_to_conv3_frozen_conv4_conv5_trainable():
    model = _meta("cvm-net-i")
    frozen = set(frozen_trunk_names())
    assert frozen == {"conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3"}
    for trunk in model.trunks.values():
        for name, layer in trunk.named_children():
            if name.startswith("conv"):
                assert layer.weight.requires_grad == (name not in frozen), name
        assert "pool5" not in dict(trunk.named_children())
        assert list(trunk.named_children())[-2][0] == "relu5_3"  # ReLU kept, then dropout
        drops = [n for n, _ in trunk.named_children() if n.startswith("drop")]
        assert drops == ["drop4_1", "drop4_2", "drop4_3", "drop5_1", "drop5_2", "drop5_3"]


def _ids(module):
    return {id(p) for p in module.parameters()}


def test_cvm_net_i_separate_trunks_and_vlads_shared_fc():
    m = _meta("cvm-net-i")
    assert not _ids(m.trunks["ground"]) & _ids(m.trunks["aerial"])
    assert not _ids(m.vlads["ground"]) & _ids(m.vlads["aerial"])
    assert isinstance(m, CVMNetI) and m.fc.in_features == 32768 and m.fc.out_features == 4096


def test_cvm_net_ii_per_view_1x1_shared_convs_and_netvlad():
    m = _meta("cvm-net-ii")
    assert isinstance(m, CVMNetII)
    assert not _ids(m.view_convs["ground"]) & _ids(m.view_convs["aerial"])
    assert m.netvlad("ground") is m.netvlad("aerial")
    assert m.projection.bias is None


@pytest.mark.parametrize("name", ["siamese-xview-resnet50", "siamese-xview-vgg16"])
def test_siamese_twins_do_not_share_weights(name):
    m = _meta(name)
    assert not _ids(m.branches["ground"]) & _ids(m.branches["aerial"])
    half = count_parameters(m) // 2
    assert count_parameters(m.branches["ground"]) == half


def test_tiny_forward_shapes_unit_norm_and_what_each_view_uses():
    torch.manual_seed(0)
    model = CVMNetI(num_clusters=2).eval()
    g, a = torch.randn(2, 3, 16, 64), torch.randn(3, 3, 32, 32)
    dg, da = model(g, a)
    assert dg.shape == (2, 4096) and da.shape == (3, 4096)
    assert torch.allclose(dg.norm(dim=1), torch.ones(2), atol=1e-5)
    with torch.no_grad():  # the aerial trunk does not touch the ground descriptor ...
        model.trunks["aerial"].conv5_3.weight.add_(1.0)
        assert torch.equal(model.embed(g, "ground"), dg)
        model.fc.weight.mul_(-1.0)  # ... the shared FC changes both
        assert not torch.allclose(model.embed(g, "ground"), dg)
    assert torch.equal(BranchView(model, "ground")(g), model.embed(g, "ground"))
    with pytest.raises(Exception, match="views"):
        model.embed(g, "street")


def test_untrained_trunk_keeps_images_apart_at_conv5():
    """He init (as torchvision's VGG16): with torch's default conv init the image-dependent
    part of conv5_3 was 3e-5 of its mean, so every image gave the same descriptor and
    training collapsed; with He init it is a sizeable fraction."""
    from reference_models.models.crossview import cvm_vgg16_trunk

    torch.manual_seed(0)
    trunk = cvm_vgg16_trunk().eval()
    images = torch.rand(6, 3, 32, 64)
    with torch.no_grad():
        maps = trunk(images)
    spread = maps.flatten(1).std(0).mean() / maps.mean()
    assert spread > 0.05, float(spread)
    convs = [m for m in trunk.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 13 and all(float(c.bias.abs().max()) == 0.0 for c in convs)


def test_set_dropout_sets_every_dropout_layer():
    from reference_models.training.crossview import set_dropout

    model = CVMNetII()
    drops = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(drops) == 12 and {d.p for d in drops} == {0.2}
    set_dropout(model, None)
    assert {d.p for d in drops} == {0.2}
    set_dropout(model, 0.0)
    assert {d.p for d in drops} == {0.0}
