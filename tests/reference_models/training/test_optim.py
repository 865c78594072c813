"""Optimisers of the loss study and the cosine learning-rate schedule."""

import dataclasses

import pytest

torch = pytest.importorskip("torch")

from reference_models.training.config import TrainConfig  # noqa: E402
from reference_models.training.optim import (  # noqa: E402
    build_optimizer,
    optimizer_step,
    scheduled_lr,
    set_lr,
    steps_per_epoch,
)


def test_optimizers_follow_the_study():
    params = [torch.nn.Parameter(torch.zeros(2))]
    assert build_optimizer(params, "adamw", 1e-5).param_groups[0]["weight_decay"] == 0.01
    sgd = build_optimizer(params, "sgd", 0.01).param_groups[0]
    assert (sgd["momentum"], sgd["weight_decay"]) == (0.9, 5e-4)
    assert build_optimizer(params, "adam", 1e-5).param_groups[0]["weight_decay"] == 0.0
    assert (
        build_optimizer(params, "sgd", 0.01, weight_decay=0.0).param_groups[0]["weight_decay"]
        == 0.0
    )
    frozen = torch.nn.Parameter(torch.zeros(2), requires_grad=False)
    assert len(build_optimizer([frozen, *params], "adam", 1e-5).param_groups[0]["params"]) == 1


def test_cosine_schedule_runs_down_to_zero():
    cfg = TrainConfig(
        sampler="places",
        places_per_batch=16,
        queries_per_epoch=1600,
        epochs=5,
        lr=1e-3,
        lr_schedule="cosine",
    )
    assert steps_per_epoch(cfg) == 100
    assert scheduled_lr(cfg, 0) == 1e-3 and abs(scheduled_lr(cfg, 250) - 5e-4) < 1e-12
    assert scheduled_lr(cfg, 500) == 0.0 and scheduled_lr(cfg, 900) == 0.0
    assert scheduled_lr(dataclasses.replace(cfg, lr_schedule="constant"), 400) == 1e-3
    mined = TrainConfig(queries_per_epoch=5000, batch_size=4)
    assert steps_per_epoch(mined) == 1250


def test_optimizer_step_updates_and_returns_the_loss():
    w = torch.nn.Parameter(torch.tensor([1.0]))
    opt = build_optimizer([w], "sgd", 0.5, weight_decay=0.0, momentum=0.0)
    set_lr(opt, 0.25)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    assert optimizer_step((w**2).sum(), opt, scaler) == 1.0
    assert w.item() == pytest.approx(0.5)  # 1 - 0.25 * 2
