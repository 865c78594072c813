"""Backbones: the benchmark's cuts, frozen layers and local weights, on CPU."""

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from reference_models.models.backbones import BACKBONES, build_backbone  # noqa: E402
from vprmetrics.errors import InputError  # noqa: E402


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet101"])
def test_resnet_freezing(name):
    bb = build_backbone(name)
    assert list(bb.body._modules) == [
        "conv1",
        "bn1",
        "relu",
        "maxpool",
        "layer1",
        "layer2",
        "layer3",
    ]
    for key, module in bb.body.named_children():
        frozen = key in ("conv1", "bn1", "layer1", "layer2")
        assert all(p.requires_grad != frozen for p in module.parameters()), key
    bb.train()
    assert bb.body.bn1.training  # frozen BatchNorm stays in train mode
    bb(torch.randn(2, 3, 32, 32))
    assert bb.body.bn1.num_batches_tracked.item() == 1


def test_vgg16_cut_and_freezing():
    bb = build_backbone("vgg16")
    layers = list(bb.body)
    assert len(layers) == 29 and isinstance(layers[-1], nn.Conv2d)  # conv5_3, no ReLU/pool5
    convs = [m for m in layers if isinstance(m, nn.Conv2d)]
    assert len(convs) == 13
    assert [c.weight.requires_grad for c in convs] == [False] * 10 + [True] * 3


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_output_channels_and_stride(name):
    with torch.device("meta"):
        bb = build_backbone(name)
    out = bb(torch.empty(1, 3, 64, 96, device="meta"))
    assert tuple(out.shape) == (1, BACKBONES[name], 4, 6) and bb.out_channels == BACKBONES[name]


def test_backbone_local_weights_roundtrip(tmp_path):
    bb = build_backbone("resnet18")
    path = tmp_path / "resnet18.pth"
    torch.save(bb.body.state_dict(), path)
    other = build_backbone("resnet18", weights_path=path)
    torch.testing.assert_close(other.body.conv1.weight, bb.body.conv1.weight)
    torch.save({"foo": torch.zeros(1)}, path)
    with pytest.raises(InputError, match="lacks"):
        build_backbone("resnet18", weights_path=path)
    with pytest.raises(InputError, match="unknown backbone"):
        build_backbone("resnet34")
