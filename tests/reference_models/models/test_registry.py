"""Registry, shapes, gradients and the Siamese model, on CPU with tiny inputs."""

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from reference_models.backbones import build_backbone  # noqa: E402
from reference_models.models import (  # noqa: E402
    MODELS,
    ModelSpec,
    build_model,
    get_spec,
    model_names,
    register_model,
)
from vprmetrics.errors import InputError  # noqa: E402

REQUIRED = [
    "resnet18-gem",
    "resnet50-netvlad",
    "vgg16-gem",
    "resnet18-crn",
    "resnet18-crn2",
    "resnet101-gem",
    "resnet18-avg",
    "siamese-resnet50",
]
DESCRIPTOR_MODELS = [n for n in sorted(MODELS) if MODELS[n].task == "descriptor"]
# forward + backward on CPU: every aggregation on ResNet-18, plus each other backbone once
# (the deep backbones cost seconds each on 2 shared cores; their shapes are checked on meta)
GRADIENT_MODELS = [n for n in DESCRIPTOR_MODELS if n.startswith("resnet18-")] + [
    "vgg16-netvlad",
    "resnet50-crn",
    "resnet101-gem",
]
CHANNELS = {"resnet18": 256, "resnet50": 1024, "resnet101": 1024, "vgg16": 512}


def test_registry_names():
    assert set(REQUIRED) <= set(model_names())
    with pytest.raises(InputError, match="unknown model"):
        build_model("resnet18-nope")
    with pytest.raises(InputError, match="already registered"):
        register_model(ModelSpec("resnet18-gem", builder=lambda: nn.Identity(), task="descriptor"))


def test_registry_accepts_new_cross_view_family():
    spec = ModelSpec(
        "toy-cross-view",
        builder=lambda: nn.Identity(),
        task="cross_view",
        inputs={"ground": (224, 1232), "aerial": (512, 512)},
    )
    register_model(spec)
    try:
        assert get_spec("toy-cross-view").inputs["aerial"] == (512, 512)
    finally:
        del MODELS["toy-cross-view"]


def _expected_dim(name: str) -> int:
    backbone, agg = name.split("-")
    return CHANNELS[backbone] * (1 if agg in ("avg", "gem") else 64)


@pytest.mark.parametrize("name", DESCRIPTOR_MODELS)
def test_output_shape_every_model(name):
    with torch.device("meta"):
        model = build_model(name)
    assert model.descriptor_dim == _expected_dim(name)
    assert model(torch.empty(2, 3, 64, 80, device="meta")).shape == (2, _expected_dim(name))


@pytest.mark.parametrize("name", GRADIENT_MODELS)
def test_shapes_and_gradients(name):
    torch.manual_seed(0)
    model = build_model(name).train()
    out = model(torch.randn(2, 3, 64, 80))
    assert out.shape == (2, _expected_dim(name))
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    for pname, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, pname
        else:
            assert p.grad is None, pname


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


def test_backbone_local_weights_roundtrip(tmp_path):
    bb = build_backbone("resnet18")
    path = tmp_path / "resnet18.pth"
    torch.save(bb.body.state_dict(), path)
    other = build_backbone("resnet18", weights_path=path)
    torch.testing.assert_close(other.body.conv1.weight, bb.body.conv1.weight)
    torch.save({"foo": torch.zeros(1)}, path)
    with pytest.raises(InputError, match="lacks"):
        build_backbone("resnet18", weights_path=path)


def test_fc_projection_option():
    model = build_model("resnet18-netvlad", fc_dim=32)
    out = model(torch.randn(2, 3, 64, 80))
    assert model.descriptor_dim == 32 and out.shape == (2, 32)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2))


def test_siamese_logits_symmetry_and_training():
    torch.manual_seed(0)
    model = build_model("siamese-resnet50", hidden_dim=16)
    assert model.descriptor_dim == 2048
    i1, i2 = torch.randn(2, 3, 64, 80), torch.randn(2, 3, 64, 80)
    logits = model(i1, i2)
    assert logits.shape == (2,)
    torch.testing.assert_close(model(i2, i1), logits, rtol=1e-4, atol=1e-5)
    assert model.embed(i1).shape == (2, 2048)
    loss = nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor([1.0, 0.0]))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(i1, i2), model(i2, i1))
        probs = model.predict_proba(i1, i1)
    assert probs.shape == (2,) and ((probs > 0) & (probs < 1)).all()
