"""Registry: names, specs, the families' shapes and gradients, on CPU with tiny inputs."""

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from reference_models.models import registry  # noqa: E402
from reference_models.models.registry import (  # noqa: E402
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
    "resnet18-avggem",
    "siamese-resnet50",
]
DESCRIPTOR_MODELS = [n for n in model_names() if get_spec(n).task == "descriptor"]
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
    assert len(DESCRIPTOR_MODELS) == 4 * 5 + 1  # and the loss study's resnet18-avggem
    with pytest.raises(InputError, match="unknown model"):
        build_model("resnet18-nope")
    with pytest.raises(InputError, match="already registered"):
        register_model(ModelSpec("resnet18-gem", builder=lambda: nn.Identity(), task="descriptor"))


def test_registry_accepts_new_cross_view_family(monkeypatch):
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))
    spec = ModelSpec(
        "toy-cross-view",
        builder=lambda: nn.Identity(),
        task="cross_view",
        inputs={"ground": (224, 1232), "aerial": (512, 512)},
    )
    register_model(spec)
    assert get_spec("toy-cross-view").inputs["aerial"] == (512, 512)


def test_specs_are_checked():
    with pytest.raises(InputError, match="FLOPs mode"):
        ModelSpec("x", builder=nn.Identity, task="descriptor", flops_mode="inference")
    with pytest.raises(InputError, match="task"):
        ModelSpec("x", builder=nn.Identity, task="segmentation")


def test_registry_lookup_imports_torch_only_then():
    code = (
        "import sys; from reference_models.models import registry; "
        "print('torch' in sys.modules); registry.get_spec('resnet18-gem'); "
        "print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]


def _expected_dim(name: str) -> int:
    backbone, agg = name.split("-")
    return CHANNELS[backbone] * (1 if agg in ("avg", "gem", "avggem") else 64)


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


def test_fc_projection_option():
    model = build_model("resnet18-netvlad", fc_dim=32)
    out = model(torch.randn(2, 3, 64, 80))
    assert model.descriptor_dim == 32 and out.shape == (2, 32)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2))
    with pytest.raises(InputError, match="not both"):
        build_model("resnet18-gem", fc_dim=8, pca_dim=8)
