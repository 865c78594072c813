"""Convolutional backbones of the visual geo-localization benchmark.

Berton et al., "Deep Visual Geo-localization Benchmark", CVPR 2022, section 4 and Table 3:

* ResNet-18/50/101 (torchvision) cut after ``layer3``: ``conv1, bn1, relu, maxpool, layer1,
  layer2, layer3``, output stride 16 with 256 (ResNet-18) or 1024 (ResNet-50/101) channels.
  ``conv1, bn1, layer1, layer2`` are frozen (``requires_grad`` False) but their BatchNorm
  layers stay in train mode, as in the benchmark.
* VGG16 (torchvision) ``features`` without its last ReLU and last max-pool: the output is
  conv5_3 before its ReLU, 512 channels, stride 16; only the conv5 block is trainable.

No weights are ever downloaded: ``weights_path`` loads a local torchvision state dict
(:func:`reference_models.models.weights.load_tensors`, never unpickling code).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
import torchvision
from torch import nn

from reference_models.models.weights import load_tensors
from vprmetrics.errors import InputError

__all__ = ["BACKBONES", "Backbone", "build_backbone"]

_RESNET_KEPT = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3")
_RESNET_FROZEN = ("conv1", "bn1", "layer1", "layer2")
_VGG16_CUT = 29  # features[:29] ends with conv5_3 (index 28); drops its ReLU and pool5
_VGG16_CONV5 = 24  # features[24] is conv5_1: the first trainable layer

#: Backbone name -> number of output channels.
BACKBONES: dict[str, int] = {"resnet18": 256, "resnet50": 1024, "resnet101": 1024, "vgg16": 512}


class Backbone(nn.Module):
    """A truncated torchvision network mapping images (N, 3, H, W) to a (N, C, H/16, W/16) map.

    Attributes:
        name: the torchvision architecture name.
        out_channels: C, the number of channels of the output feature map.
        body: the kept layers, named as in torchvision.
    """

    def __init__(self, name: str, body: nn.Sequential, out_channels: int) -> None:
        super().__init__()
        self.name = name
        self.out_channels = out_channels
        self.body = body

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Return the feature map of ``images`` (N, 3, H, W)."""
        return self.body(images)


def _resnet(name: str) -> nn.Sequential:
    full = getattr(torchvision.models, name)(weights=None)
    body = nn.Sequential(OrderedDict((key, getattr(full, key)) for key in _RESNET_KEPT))
    for key in _RESNET_FROZEN:
        body.get_submodule(key).requires_grad_(False)
    return body


def _vgg16() -> nn.Sequential:
    features = torchvision.models.vgg16(weights=None).features
    body = nn.Sequential(*list(features.children())[:_VGG16_CUT])
    for index, layer in enumerate(body):
        if index < _VGG16_CONV5:
            layer.requires_grad_(False)
    return body


def _load_weights(body: nn.Sequential, name: str, weights_path: str | Path) -> None:
    """Load the kept layers from a local torchvision state dict (full network or trunk)."""
    state = load_tensors(weights_path)
    if name == "vgg16":
        state = {key.removeprefix("features."): value for key, value in state.items()}
    own = body.state_dict()
    state = {key.removeprefix("body."): value for key, value in state.items()}
    kept = {key: value for key, value in state.items() if key in own}
    missing = sorted(set(own) - set(kept))
    if missing:
        raise InputError(
            f"{weights_path} lacks {len(missing)} tensors of {name} (first: {missing[0]}): "
            f"give a torchvision {name} state dict"
        )
    body.load_state_dict(kept)


def build_backbone(name: str, *, weights_path: str | Path | None = None) -> Backbone:
    """Build a truncated backbone by name (see :data:`BACKBONES`), randomly initialised.

    Args:
        name: ``resnet18``, ``resnet50``, ``resnet101`` or ``vgg16``.
        weights_path: optional local torchvision state dict to load (never downloaded).
    """
    if name not in BACKBONES:
        raise InputError(f"unknown backbone {name!r}: choose one of {sorted(BACKBONES)}")
    body = _vgg16() if name == "vgg16" else _resnet(name)
    if weights_path is not None:
        _load_weights(body, name, weights_path)
    return Backbone(name, body, BACKBONES[name])
