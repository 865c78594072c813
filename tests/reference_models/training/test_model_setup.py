"""The model a run starts from: weights files, the freezing rule, NetVLAD initialisation."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reference_models.images import ImageSpec, ImageStore  # noqa: E402
from reference_models.models.registry import build_model  # noqa: E402
from reference_models.training.model_setup import (  # noqa: E402
    apply_freeze,
    build_run_model,
    init_netvlad,
    load_weights,
)
from vprmetrics.errors import InputError  # noqa: E402


def test_freeze_rule():
    model = build_model("resnet18-gem")
    assert apply_freeze(model, "auto", has_weights=True) == "benchmark"
    assert not model.backbone.body.conv1.weight.requires_grad
    assert apply_freeze(model, "auto", has_weights=False) == "none"
    assert all(p.requires_grad for p in model.backbone.parameters())
    siamese = build_model("siamese-resnet50", hidden_dim=8)
    assert apply_freeze(siamese, "none", has_weights=True) == "none"
    assert all(p.requires_grad for p in siamese.branch.parameters())


def test_weights_file_is_a_model_or_a_backbone(tiny_config, tmp_path):
    source = build_model("resnet18-gem")
    run_file = tmp_path / "best.pt"
    torch.save({"model": source.state_dict(), "epoch": 1}, run_file)
    model = build_model("resnet18-gem")
    assert load_weights(model, run_file) == "model"
    assert torch.equal(model.aggregator.p, source.aggregator.p)
    backbone_file = tmp_path / "resnet18.pth"
    torch.save(source.backbone.body.state_dict(), backbone_file)
    assert load_weights(build_model("resnet18-gem"), backbone_file) == "backbone"
    cfg = tiny_config(tmp_path, tmp_path / "run", weights=str(backbone_file))
    built, loaded, rule = build_run_model(cfg)
    assert (loaded, rule) == ("backbone", "benchmark")
    assert torch.equal(built.backbone.body.conv1.weight, source.backbone.body.conv1.weight)
    torch.save({"aggregator.p": torch.zeros(3)}, backbone_file)
    with pytest.raises(InputError, match="wrong shape"):
        load_weights(build_model("resnet18-gem"), backbone_file)
    torch.save([1, 2], backbone_file)
    with pytest.raises(InputError, match="state dict"):
        load_weights(build_model("resnet18-gem"), backbone_file)


def test_init_netvlad_only_for_models_with_one(tiny, tiny_config, tmp_path):
    cfg = tiny_config(tiny, tmp_path / "run")
    files = sorted((tiny / "images" / "train" / "database").glob("*.jpg"))
    store = ImageStore(tiny, [str(f.relative_to(tiny)) for f in files], ImageSpec((32, 48)))
    device = torch.device("cpu")
    rng = np.random.default_rng(0)
    assert init_netvlad(build_model("resnet18-gem"), store, cfg, device, rng) is None
    model = build_model("resnet18-netvlad", num_clusters=8)
    alpha = init_netvlad(model, store, cfg, device, rng)
    assert alpha > 0
    weight = model.aggregator.conv.weight[:, :, 0, 0]
    torch.testing.assert_close(weight.norm(dim=1), torch.full((8,), alpha), rtol=1e-4, atol=1e-4)
