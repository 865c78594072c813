"""The CRN two-stage schedule (``schedule="crn-two-stage"``, ``--schedule crn-two-stage``).

Kim, Dunn, Frahm, "Learned Contextual Feature Reweighting for Image Geo-Localization",
CVPR 2017, train the contextual reweighting mask on top of a trained NetVLAD:

1. **stage 1**: ``<backbone>-netvlad`` with the run's own options, in ``<out>/netvlad``
   (or an existing run given as ``stage1_run``);
2. **stage 2**: ``<backbone>-crn`` (or ``-crn2``) in ``<out>/crn`` starts from the stage-1
   model (its NetVLAD tensors renamed into the CRN model's ``aggregator.netvlad``), with
   SGD (momentum 0.9, weight decay 1e-3), the mask layers at 10 x the learning rate of the
   rest (published: 5e-3 and 5e-4).

Stage 2 keeps the run's epochs, sampler and loss; only the optimiser settings above and
the learning rate (:data:`STAGE2`, ``lr`` 5e-4 unless the run asks for another
``stage2_lr`` through :func:`train_two_stage`) change. Each stage is an ordinary run
folder, so ``resume`` works per stage.

>>> renamed_netvlad_state({"aggregator.conv.weight": 1, "backbone.0.weight": 2})
{'aggregator.netvlad.conv.weight': 1, 'backbone.0.weight': 2}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reference_models.training.checkpoints import load_checkpoint, save_checkpoint
from reference_models.training.config import TrainConfig
from reference_models.training.optim import build_optimizer
from vprmetrics.errors import InputError

__all__ = ["STAGE2", "build_run_optimizer", "renamed_netvlad_state", "train_two_stage"]

#: Stage-2 optimiser of Kim et al. 2017: SGD, the rest at 5e-4, the mask at 10 x that.
STAGE2: dict[str, Any] = dict(
    optimizer="sgd", lr=5e-4, mask_lr_scale=10.0, weight_decay=1e-3, momentum=0.9
)


def renamed_netvlad_state(state: dict[str, Any]) -> dict[str, Any]:
    """A NetVLAD model's state dict with ``aggregator.*`` renamed ``aggregator.netvlad.*``."""
    prefix = "aggregator."
    return {
        (f"{prefix}netvlad.{k[len(prefix) :]}" if k.startswith(prefix) else k): v
        for k, v in state.items()
    }


def build_run_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The run's optimiser; with ``cfg.mask_lr_scale`` the CRN mask layers (``*.crn.*``)
    form a second group at ``lr * mask_lr_scale`` (kept by the schedules'
    :func:`reference_models.training.optim.set_lr` through its ``lr_scale``)."""
    if not cfg.mask_lr_scale:
        return build_optimizer(
            model.parameters(), cfg.optimizer, cfg.lr, cfg.weight_decay, cfg.momentum
        )
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    mask = [p for n, p in named if ".crn." in f".{n}"]
    if not mask:
        raise InputError(f"mask_lr_scale is set but {cfg.model!r} has no CRN mask layers")
    rest = [p for n, p in named if ".crn." not in f".{n}"]
    optimizer = build_optimizer(rest, cfg.optimizer, cfg.lr, cfg.weight_decay, cfg.momentum)
    scale = float(cfg.mask_lr_scale)
    optimizer.add_param_group({"params": mask, "lr": cfg.lr * scale, "lr_scale": scale})
    return optimizer


def train_two_stage(
    cfg: TrainConfig,
    train_fn: Callable[..., Any],
    *,
    stage1_run: str | Path | None = None,
    stage2_lr: float | None = None,
    **kw: Any,
) -> Any:
    """Run the two stages with ``train_fn`` (:func:`reference_models.training.loop.train`);
    return the stage-2 result. ``stage1_run``: a finished NetVLAD run to start from."""
    backbone, _, kind = cfg.model.rpartition("-")
    if kind not in ("crn", "crn2"):
        raise InputError(
            f"schedule crn-two-stage trains a CRN model, not {cfg.model!r}: use e.g. resnet18-crn"
        )
    out = Path(cfg.out)
    if stage1_run is None:
        stage1 = dataclasses.replace(
            cfg, model=f"{backbone}-netvlad", schedule="single", out=str(out / "netvlad")
        )
        stage1_run = train_fn(stage1, **kw).run_dir
    best = Path(stage1_run) / "best.pt"
    if not best.is_file():
        raise InputError(f"{best} is missing: stage 1 (NetVLAD) did not finish")
    state = renamed_netvlad_state(load_checkpoint(best)["model"])
    init = out / "netvlad-for-crn.pt"
    save_checkpoint(init, {"model": state})
    options = {**STAGE2, "lr": stage2_lr or STAGE2["lr"]}
    stage2 = dataclasses.replace(
        cfg, schedule="single", out=str(out / "crn"), weights=str(init), **options
    )
    return train_fn(stage2, **kw)
