r"""The Siamese place recogniser of the seed paper "Siamese Network for Place Recognition".

Two weight-sharing branches (the same module: torchvision's ResNet-50 up to its global
average pool) give 2048-d features :math:`f(I)`; the head scores a pair with

.. math:: z = \mathrm{FC}_2(\mathrm{ReLU}(\mathrm{FC}_1(|f(I_1) - f(I_2)|)))

(512 hidden units), symmetric in :math:`(I_1, I_2)`. Training: binary cross-entropy on the
logits (:mod:`reference_models.training.pairs`); prediction: a sigmoid; retrieval: one
branch (:meth:`SiameseNet.embed`) with Euclidean distance. Importing this module registers
``siamese-resnet50`` (``task="pair"``, default input 128x384).

Initialisation (the paper starts from ImageNet weights and does not say; ours is for
training from scratch): the branch's residual blocks start with their last BatchNorm scale
at zero (torchvision's ``zero_init_residual``: each block starts as its shortcut, Goyal et
al. 2017), and :meth:`SiameseNet.init_distance_head` starts the head as a distance.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import cast

import torch
import torchvision
from torch import nn

from reference_models.models.registry import ModelSpec, register_model
from reference_models.models.weights import load_tensors
from vprmetrics.errors import InputError

__all__ = ["SiameseNet"]


class SiameseNet(nn.Module):
    """``branch`` (images -> (N, feature_dim)) twice, and the pair head (module docstring)."""

    def __init__(self, branch: nn.Module, feature_dim: int = 2048, hidden_dim: int = 512) -> None:
        super().__init__()
        self.branch = branch
        self.descriptor_dim = feature_dim
        self.head = nn.Sequential(
            OrderedDict(
                fc1=nn.Linear(feature_dim, hidden_dim),
                relu=nn.ReLU(),
                fc2=nn.Linear(hidden_dim, 1),
            )
        )

    def embed(self, images: torch.Tensor, view: str | None = None) -> torch.Tensor:
        """One branch: (N, 3, H, W) -> (N, 2048) features."""
        return self.branch(images)

    def init_distance_head(self, differences: torch.Tensor) -> None:
        r"""Start the head as a weighted L1 distance, calibrated on (N, D) ``differences``
        :math:`d = |f_1 - f_2|` of a few pairs.

        ``fc1`` gets :math:`|W|` and bias 0, ``fc2`` gets :math:`-s|v|` and bias :math:`c`:

        .. math:: z = c - s \sum_j |v_j| \sum_i |W_{ji}|\, d_i

        (the ReLU passes the non-negative hidden units unchanged), which falls with every
        :math:`d_i`, so the first BCE steps pull positives together and push negatives
        apart, as a contrastive loss would. :math:`s, c` give the logits of
        ``differences`` mean 0 and standard deviation 1 (a default-initialised head gives
        near-constant logits that 100 steps from scratch do not move).

        >>> net = SiameseNet(nn.Flatten(1), feature_dim=3, hidden_dim=4)
        >>> d = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
        >>> net.init_distance_head(d)
        >>> z = net.head(d).squeeze(1).detach()
        >>> bool(z[0] > z[1]), abs(round(float(z.mean()), 4)), round(float(z.std()), 4)
        (True, 0.0, 1.0)
        """
        with torch.no_grad():
            fc1, fc2 = cast(nn.Linear, self.head.fc1), cast(nn.Linear, self.head.fc2)
            fc1.weight.abs_()
            fc1.bias.zero_()
            fc2.weight.abs_().neg_()
            fc2.bias.zero_()
            z = self.head(differences).squeeze(1)
            std = z.std().clamp_min(1e-12)
            fc2.weight.div_(std)
            fc2.bias.fill_(float(-z.mean() / std))

    def forward(self, images1: torch.Tensor, images2: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) and (kN, 3, H, W) -> (kN,) logits that image ``i`` of ``images1``
        and images ``ki .. ki + k - 1`` of ``images2`` show the same place (k = 1: pair by
        pair; pair training gives each query once, with its positive and negative: k = 2).

        Both batches go through the branch together, so BatchNorm statistics (train mode)
        are shared and, for k = 1, swapping the inputs gives the same logits.
        """
        n, m = images1.shape[0], images2.shape[0]
        if n == 0 or m % n:
            raise InputError(f"{m} second images do not split evenly over {n} first images")
        feats = self.branch(torch.cat([images1, images2], dim=0))
        f1, f2 = feats.split([n, m], dim=0)
        return self.head((f1.repeat_interleave(m // n, dim=0) - f2).abs()).squeeze(1)

    def predict_proba(self, images1: torch.Tensor, images2: torch.Tensor) -> torch.Tensor:
        """Probability that each pair shows the same place: sigmoid of the logit."""
        return torch.sigmoid(self(images1, images2))


def _resnet50_branch(weights_path: str | Path | None) -> nn.Sequential:
    full = torchvision.models.resnet50(weights=None, zero_init_residual=True)
    if weights_path is not None:
        state = load_tensors(weights_path)
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        result = full.load_state_dict(state, strict=False)
        missing = [k for k in result.missing_keys if not k.startswith("fc.")]
        if missing:
            raise InputError(
                f"{weights_path} lacks {len(missing)} ResNet-50 tensors (first: {missing[0]}): "
                "give a torchvision resnet50 state dict"
            )
    keys = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool")
    layers = OrderedDict((key, getattr(full, key)) for key in keys)
    layers["flatten"] = nn.Flatten(1)
    return nn.Sequential(layers)


def _build_siamese(*, hidden_dim: int = 512, weights_path: str | Path | None = None) -> SiameseNet:
    return SiameseNet(_resnet50_branch(weights_path), 2048, hidden_dim)


register_model(
    ModelSpec(
        name="siamese-resnet50",
        builder=_build_siamese,
        task="pair",
        inputs={"image": (128, 384)},
        flops_mode="train",
        summary="weight-sharing ResNet-50 branches, |f1-f2| -> FC-ReLU-FC -> logit",
    )
)
