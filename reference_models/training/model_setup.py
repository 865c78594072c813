"""The model a run starts from: local weights, the freezing rule, NetVLAD initialisation.

* ``weights`` (never downloaded): a file whose keys name tensors of the model (a whole
  model, or a run's ``best.pt``) is loaded into it; anything else is taken for a
  torchvision backbone state dict and loaded by the model's builder.
* Freezing: ``benchmark`` keeps the builders' frozen early layers (ResNet ``conv1``,
  ``bn1``, ``layer1``, ``layer2``; VGG16 below conv5), ``none`` trains every backbone
  layer; ``auto`` is ``benchmark`` with weights and ``none`` from scratch.
* NetVLAD (and CRN, which holds one): the benchmark's k-means initialisation from local
  descriptors of ``netvlad_init_images`` random training database images,
  ``netvlad_init_per_image`` locations each (Berton et al., "Deep Visual Geo-localization
  Benchmark", CVPR 2022, after Arandjelovic et al., "NetVLAD", CVPR 2016).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import cast

import numpy as np
import torch
from torch import nn

from reference_models.images import ImageStore
from reference_models.models.aggregators import (
    NetVLAD,
    init_netvlad_from_features,
    sample_local_descriptors,
)
from reference_models.models.registry import build_model
from reference_models.models.weights import load_tensors
from reference_models.training.config import TrainConfig
from vprmetrics.errors import InputError

__all__ = ["apply_freeze", "build_run_model", "init_netvlad", "load_weights", "run_meta"]


def load_weights(model: nn.Module, path: str | Path) -> str:
    """Load a local state dict into ``model`` if its keys name the model's tensors.

    Returns ``model`` when loaded (keys the file lacks keep their initial values), or
    ``backbone`` when none of its keys belongs to the model (the builder loads it).
    """
    state = load_tensors(path)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise InputError(f"{path} does not hold a state dict")
    own = model.state_dict()
    if not set(state) & set(own):
        return "backbone"
    bad = sorted(k for k in state if k in own and state[k].shape != own[k].shape)
    if bad:
        name = type(model).__name__
        raise InputError(f"{path}: tensor {bad[0]!r} has the wrong shape for {name}")
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    return "model"


def _trainable_body(model: nn.Module) -> nn.Module | None:
    for name in ("backbone", "branch"):
        body = getattr(model, name, None)
        if isinstance(body, nn.Module):
            return body
    return None


def apply_freeze(model: nn.Module, rule: str, has_weights: bool) -> str:
    """Apply the freezing rule; return the rule used (``benchmark`` or ``none``)."""
    used = ("benchmark" if has_weights else "none") if rule == "auto" else rule
    body = _trainable_body(model)
    if used == "none" and body is not None:
        body.requires_grad_(True)
    return used


def build_run_model(cfg: TrainConfig) -> tuple[nn.Module, str, str]:
    """The model of ``cfg`` with its weights loaded and freezing applied.

    Returns (model, what ``weights`` held: ``model``/``backbone``/``none``, freeze rule).
    """
    loaded = "none"
    model = build_model(cfg.model)
    if cfg.weights:
        loaded = load_weights(model, cfg.weights)
        if loaded == "backbone":
            model = build_model(cfg.model, weights_path=cfg.weights)
    rule = apply_freeze(model, cfg.freeze, has_weights=cfg.weights is not None)
    return model, loaded, rule


def run_meta(
    cfg: TrainConfig,
    model: nn.Module,
    device: torch.device,
    amp: bool,
    loaded: str,
    rule: str,
    netvlad_alpha: object,
    **data: object,
) -> dict[str, object]:
    """The ``meta`` block of a run's ``log.json``: what the run started from and ran on.

    ``data`` adds the run's own sizes (splits, image size); ``trainable_parameters``
    counts the tensors left to train after freezing.
    """
    return {
        "model": cfg.model,
        "protocol": cfg.protocol,
        "device": str(device),
        "amp": amp,
        "weights": loaded,
        "freeze": rule,
        "netvlad_alpha": netvlad_alpha,
        **data,
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }


def init_netvlad(
    model: nn.Module,
    store: ImageStore,
    cfg: TrainConfig,
    device: torch.device,
    rng: np.random.Generator,
) -> float | None:
    """Initialise the model's NetVLAD layer (if it has exactly one); return alpha."""
    layers = [m for m in model.modules() if isinstance(m, NetVLAD)]
    if len(layers) != 1:
        return None
    layer = layers[0]
    n = min(cfg.netvlad_init_images, len(store))
    picks = np.sort(rng.choice(len(store), n, replace=False))
    gen = torch.Generator().manual_seed(cfg.seed)
    feats = []
    with torch.no_grad():
        for s in range(0, n, cfg.infer_batch_size):
            images = store.batch(picks[s : s + cfg.infer_batch_size]).to(device)
            h, w = images.shape[-2:]
            per_image = min(cfg.netvlad_init_per_image, math.ceil(h / 16) * math.ceil(w / 16))
            feats.append(
                sample_local_descriptors(
                    cast(nn.Module, model.backbone), images, per_image=per_image, generator=gen
                )
            )
    local = torch.cat(feats)
    if local.shape[0] < layer.num_clusters:
        raise InputError(
            f"only {local.shape[0]} local descriptors for {layer.num_clusters} clusters: "
            "raise netvlad_init_images or the image size"
        )
    return init_netvlad_from_features(layer, local, seed=cfg.seed)
