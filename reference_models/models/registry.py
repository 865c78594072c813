"""Named reference models and the registry that builds them.

Every registered model is an ``nn.Module`` with

* ``descriptor_dim``: the size of the descriptor that retrieval scores;
* ``embed(images, view=None)``: images (N, 3, H, W) -> descriptors (N, descriptor_dim).

Each registry entry (:class:`ModelSpec`) says what the model's ``forward`` does (``task``:
``descriptor`` = images -> descriptors; ``pair`` = two image batches -> one logit per pair;
``cross_view`` = reserved for CVM-Net, ground and aerial views), its named input views with
their default sizes, and the mode its FLOPs are reported in. A new family (e.g. CVM-Net) is
one :func:`register_model` call with ``task="cross_view"`` and
``inputs={"ground": (224, 1232), "aerial": (512, 512)}``; :mod:`reference_models.describe`
then accounts it per view without changes.

Models: ``<backbone>-<aggregation>`` for backbones ResNet-18/50/101 and VGG16 and
aggregations ``avg``, ``gem``, ``netvlad``, ``crn``, ``crn2`` (Berton et al. CVPR 2022;
Kim et al. CVPR 2017), and ``siamese-resnet50`` (the seed "Siamese Network for Place
Recognition").
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torchvision
from torch import nn

from reference_models.aggregators import (
    AvgPool,
    CRNNetVLAD,
    FCProjection,
    GeM,
    NetVLAD,
    PCAWhitening,
)
from reference_models.backbones import BACKBONES, Backbone, build_backbone
from vprmetrics.errors import InputError

__all__ = [
    "AGGREGATIONS",
    "MODELS",
    "GeoLocalizationNet",
    "ModelSpec",
    "SiameseNet",
    "build_model",
    "get_spec",
    "model_names",
    "register_model",
]

Task = Literal["descriptor", "pair", "cross_view"]


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry.

    Attributes:
        name: registry name, e.g. ``resnet18-gem``.
        builder: ``builder(**opts) -> nn.Module``.
        task: what ``forward`` computes (see the module docstring).
        inputs: view name -> default input (H, W) of ``embed(images, view)``.
        flops_mode: the mode published FLOPs were counted in (``train``, ``eval`` or
            ``backbone_eval``, see :func:`reference_models.accounting.flops_mode`).
        summary: one line for listings.
    """

    name: str
    builder: Callable[..., nn.Module]
    task: Task
    inputs: Mapping[str, tuple[int, int]] = field(default_factory=lambda: {"image": (480, 640)})
    flops_mode: str = "train"
    summary: str = ""


#: Registry name -> spec. Fill it with :func:`register_model`.
MODELS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to :data:`MODELS` (a name can be registered once)."""
    if spec.name in MODELS:
        raise InputError(f"model {spec.name!r} is already registered: choose another name")
    MODELS[spec.name] = spec
    return spec


def model_names() -> list[str]:
    """Sorted registry names."""
    return sorted(MODELS)


def get_spec(name: str) -> ModelSpec:
    """The registry entry of ``name``, or an error listing the valid names."""
    try:
        return MODELS[name]
    except KeyError:
        raise InputError(f"unknown model {name!r}: choose one of {model_names()}") from None


def build_model(name: str, **opts: Any) -> nn.Module:
    """Build the registered model ``name`` with random weights (``weights=None``).

    Options of ``<backbone>-<aggregation>`` models: ``num_clusters`` (NetVLAD/CRN, 64),
    ``gem_p`` (3.0), ``fc_dim`` (FC projection + L2), ``pca_dim`` and ``whiten`` (PCA
    projection, fitted later), ``weights_path`` (local backbone state dict). Options of
    ``siamese-resnet50``: ``hidden_dim`` (512), ``weights_path``.
    """
    return get_spec(name).builder(**opts)


class GeoLocalizationNet(nn.Module):
    """Backbone -> aggregator (-> optional projection): images -> global descriptors.

    Berton et al. CVPR 2022, Fig. 1: the benchmark's single-image retrieval model.
    """

    def __init__(
        self, backbone: Backbone, aggregator: nn.Module, projection: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.aggregator = aggregator
        self.projection = projection
        self.descriptor_dim: int = int(
            projection.out_dim if projection is not None else aggregator.out_dim
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, descriptor_dim)."""
        out = self.aggregator(self.backbone(images))
        return out if self.projection is None else self.projection(out)

    def embed(self, images: torch.Tensor, view: str | None = None) -> torch.Tensor:
        """Descriptors of ``images`` (the model has one view, ``image``)."""
        return self(images)


def _aggregator(kind: str, dim: int, *, num_clusters: int, gem_p: float) -> nn.Module:
    if kind == "avg":
        return AvgPool(dim)
    if kind == "gem":
        return GeM(dim, p=gem_p)
    if kind == "netvlad":
        return NetVLAD(dim, num_clusters)
    return CRNNetVLAD(dim, num_clusters, variant=kind)


def _geo_builder(backbone_name: str, kind: str) -> Callable[..., GeoLocalizationNet]:
    def build(
        *,
        num_clusters: int = 64,
        gem_p: float = 3.0,
        fc_dim: int | None = None,
        pca_dim: int | None = None,
        whiten: bool = True,
        weights_path: str | Path | None = None,
    ) -> GeoLocalizationNet:
        if fc_dim is not None and pca_dim is not None:
            raise InputError("give fc_dim or pca_dim, not both")
        backbone = build_backbone(backbone_name, weights_path=weights_path)
        agg = _aggregator(kind, backbone.out_channels, num_clusters=num_clusters, gem_p=gem_p)
        projection: nn.Module | None = None
        if fc_dim is not None:
            projection = FCProjection(agg.out_dim, fc_dim)
        elif pca_dim is not None:
            projection = PCAWhitening(agg.out_dim, pca_dim, whiten=whiten)
        return GeoLocalizationNet(backbone, agg, projection)

    return build


#: Aggregation name -> (FLOPs mode of the published numbers, summary).
AGGREGATIONS: dict[str, tuple[str, str]] = {
    "avg": ("train", "average pooling of the L2-normalised map"),
    "gem": ("train", "GeM pooling, p=3 learnable (Radenovic et al. TPAMI 2018)"),
    "netvlad": ("backbone_eval", "NetVLAD, 64 clusters (Arandjelovic et al. CVPR 2016)"),
    "crn": ("train", "NetVLAD with a CRN mask (Kim et al. CVPR 2017)"),
    "crn2": ("train", "NetVLAD with our CRN2 mask variant (stacked dilated 3x3 convs)"),
}

for _bb in BACKBONES:
    for _agg, (_mode, _summary) in AGGREGATIONS.items():
        register_model(
            ModelSpec(
                name=f"{_bb}-{_agg}",
                builder=_geo_builder(_bb, _agg),
                task="descriptor",
                flops_mode=_mode,
                summary=f"{_bb} cut after conv4 + {_summary}",
            )
        )


class SiameseNet(nn.Module):
    """Siamese place recogniser (seed paper "Siamese Network for Place Recognition").

    Two weight-sharing ResNet-50 branches (the same module) give 2048-d global-average-
    pooled features; ``logit = FC(ReLU(FC(|f(I1) - f(I2)|)))``, symmetric in (I1, I2).
    Train with binary cross-entropy on logits, predict with a sigmoid; retrieval uses one
    branch (:meth:`embed`) with Euclidean distance.
    """

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

    def forward(self, images1: torch.Tensor, images2: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) x 2 -> (N,) logits that the pairs show the same place.

        Both batches go through the branch together, so BatchNorm statistics (train mode)
        are shared and swapping the inputs gives the same logits.
        """
        feats = self.branch(torch.cat([images1, images2], dim=0))
        f1, f2 = feats.split(images1.shape[0], dim=0)
        return self.head((f1 - f2).abs()).squeeze(1)

    def predict_proba(self, images1: torch.Tensor, images2: torch.Tensor) -> torch.Tensor:
        """Probability that each pair shows the same place: sigmoid of the logit."""
        return torch.sigmoid(self(images1, images2))


def _resnet50_branch(weights_path: str | Path | None) -> nn.Sequential:
    full = torchvision.models.resnet50(weights=None)
    if weights_path is not None:
        state = torch.load(Path(weights_path), map_location="cpu", weights_only=True)
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
