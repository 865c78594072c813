r"""Optimisers, the learning-rate schedule and the optimisation step shared by every sampler.

Optimisers as in the loss study: Adam (weight decay 0), AdamW (0.01), SGD (momentum 0.9,
weight decay 5e-4); ``weight_decay`` overrides the default. The ``cosine`` schedule of
global step :math:`t` out of :math:`T` = ``epochs * steps_per_epoch`` is

.. math:: \mathrm{lr}_t = \tfrac12\, \mathrm{lr}\, (1 + \cos(\pi \min(t, T) / T)).

>>> from reference_models.training.config import TrainConfig
>>> cfg = TrainConfig(sampler="places", places_per_batch=16, queries_per_epoch=1600,
...                   epochs=5, lr=1e-3, lr_schedule="cosine")
>>> steps_per_epoch(cfg), scheduled_lr(cfg, 0), scheduled_lr(cfg, 500)
(100, 0.001, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from reference_models.training.config import OPTIMIZERS, TrainConfig
from vprmetrics.errors import InputError

__all__ = ["build_optimizer", "optimizer_step", "scheduled_lr", "set_lr", "steps_per_epoch"]


def build_optimizer(
    params: Iterable[nn.Parameter],
    name: str,
    lr: float,
    weight_decay: float | None = None,
    momentum: float = 0.9,
) -> torch.optim.Optimizer:
    """Adam (wd 0), AdamW (wd 0.01) or SGD (momentum 0.9, wd 5e-4) over the trainable
    ``params``."""
    params = [p for p in params if p.requires_grad]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay or 0.0)
    if name == "adamw":
        wd = 0.01 if weight_decay is None else weight_decay
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "sgd":
        wd = 5e-4 if weight_decay is None else weight_decay
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd)
    raise InputError(f"unknown optimizer {name!r}: choose one of {OPTIMIZERS}")


def steps_per_epoch(cfg: TrainConfig) -> int:
    """Optimisation steps of one epoch (mined tuples: when every chunk is full)."""
    if cfg.sampler == "places":
        return max(1, math.ceil(cfg.queries_per_epoch / cfg.places_per_batch))
    return max(1, cfg.queries_per_epoch // cfg.batch_size)


def scheduled_lr(cfg: TrainConfig, step: int) -> float:
    """The learning rate of global step ``step`` (0-based): constant, or cosine from
    ``lr`` down to 0 over ``epochs * steps_per_epoch`` steps."""
    if cfg.lr_schedule == "constant":
        return cfg.lr
    total = cfg.epochs * steps_per_epoch(cfg)
    return 0.5 * cfg.lr * (1.0 + math.cos(math.pi * min(step, total) / total))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group (times its ``lr_scale``, if any)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)


def optimizer_step(
    loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler
) -> float:
    """One (mixed-precision aware) optimisation step on ``loss``; returns its value."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return float(loss.detach())
