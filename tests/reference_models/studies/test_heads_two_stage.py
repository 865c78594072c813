"""The CRN two-stage schedule and the soft-assignment heatmaps of the heads study."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from reference_models.cli import build_parser  # noqa: E402
from reference_models.cli.train import config_from_args  # noqa: E402
from reference_models.models.heatmaps import assignment_heatmaps  # noqa: E402
from reference_models.models.registry import build_model  # noqa: E402
from reference_models.training.config import TrainConfig  # noqa: E402
from reference_models.training.optim import set_lr  # noqa: E402
from reference_models.training.two_stage import (  # noqa: E402
    STAGE2,
    build_run_optimizer,
    train_two_stage,
)
from vprmetrics.errors import InputError  # noqa: E402


def test_schedule_is_a_checked_option_of_config_and_cli():
    with pytest.raises(InputError, match="schedule"):
        TrainConfig(schedule="three-stage")
    args = build_parser().parse_args(
        [
            "train",
            "--model",
            "resnet18-crn",
            "--protocol",
            "p",
            "--dataset-root",
            "d",
            "--out",
            "o",
            "--schedule",
            "crn-two-stage",
        ]
    )
    assert config_from_args(args).schedule == "crn-two-stage"


def test_mask_layers_get_ten_times_the_rate_and_keep_it_under_the_schedule():
    model = build_model("resnet18-crn")
    cfg = TrainConfig(model="resnet18-crn", optimizer="sgd", lr=5e-4, mask_lr_scale=10.0)
    opt = build_run_optimizer(model, cfg)
    rest, mask = opt.param_groups
    assert mask["lr"] == pytest.approx(5e-3) and rest["lr"] == pytest.approx(5e-4)
    crn = {id(p) for p in model.aggregator.crn.parameters() if p.requires_grad}
    assert {id(p) for p in mask["params"]} == crn
    assert not crn & {id(p) for p in rest["params"]}
    set_lr(opt, 1e-4)  # what the per-step schedules call
    assert mask["lr"] == pytest.approx(1e-3) and rest["lr"] == pytest.approx(1e-4)
    with pytest.raises(InputError, match="no CRN mask"):
        build_run_optimizer(
            build_model("resnet18-gem"), TrainConfig(model="resnet18-gem", mask_lr_scale=10.0)
        )


def test_two_stage_trains_netvlad_then_crn_from_it(tiny, tiny_config, tmp_path):
    from reference_models.training.checkpoints import load_checkpoint
    from reference_models.training.loop import train

    cfg = tiny_config(tiny, tmp_path / "run", model="resnet18-crn", schedule="crn-two-stage")
    result = train(cfg)
    assert result.run_dir == tmp_path / "run" / "crn"
    stage1 = load_checkpoint(tmp_path / "run" / "netvlad" / "best.pt")["model"]
    saved = json.loads((tmp_path / "run" / "crn" / "config.json").read_text())
    assert saved["optimizer"] == "sgd" and saved["lr"] == STAGE2["lr"]
    assert saved["mask_lr_scale"] == 10.0 and saved["weight_decay"] == 1e-3
    log = json.loads((tmp_path / "run" / "crn" / "log.json").read_text())
    assert log["meta"]["weights"] == "model" and log["meta"]["netvlad_alpha"] is None
    # stage 2 started from the stage-1 NetVLAD (its centroids; frozen early layers unchanged)
    crn = load_checkpoint(tmp_path / "run" / "crn" / "best.pt")["model"]
    assert torch.equal(
        crn["backbone.body.layer1.0.conv1.weight"], stage1["backbone.body.layer1.0.conv1.weight"]
    )
    assert crn["aggregator.netvlad.centroids"].shape == stage1["aggregator.centroids"].shape
    with pytest.raises(InputError, match="CRN model"):
        train_two_stage(tiny_config(tiny, tmp_path / "x"), train)


def test_crn_heatmap_is_its_mask_and_netvlad_is_flat():
    torch.manual_seed(0)
    model = build_model("resnet18-crn", num_clusters=4)
    feats = torch.randn(2, 256, 6, 8)
    maps = assignment_heatmaps(model.aggregator, feats)
    mask = model.aggregator.crn(feats)[:, 0]
    assert torch.allclose(maps["assignment"], mask, atol=1e-5)
    plain = assignment_heatmaps(model.aggregator.netvlad, feats)
    assert torch.allclose(plain["assignment"], torch.ones(2, 6, 8), atol=1e-5)
    assert plain["contribution"].std() > 0
    with pytest.raises(TypeError):
        assignment_heatmaps(torch.nn.Identity(), feats)
