"""Single-image retrieval models: backbone -> aggregator (-> projection) -> descriptor.

Berton et al., "Deep Visual Geo-localization Benchmark", CVPR 2022, Fig. 1. Importing this
module registers ``<backbone>-<aggregation>`` (``task="descriptor"``) for every backbone of
:data:`reference_models.models.backbones.BACKBONES` and every aggregation of
:data:`AGGREGATIONS`, e.g. ``resnet18-gem`` or ``vgg16-netvlad``, and ``resnet18-avggem``,
the loss study's model: a 3x3 stride-1 average pooling of the conv4 map, then GeM
(:class:`reference_models.models.aggregators.GeM` with ``pre_pool=3``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from reference_models.models.aggregators import (
    AvgPool,
    CRNNetVLAD,
    FCProjection,
    GeM,
    NetVLAD,
    PCAWhitening,
)
from reference_models.models.backbones import BACKBONES, Backbone, build_backbone
from reference_models.models.registry import FlopsMode, ModelSpec, register_model
from vprmetrics.errors import InputError

__all__ = ["AGGREGATIONS", "GeoLocalizationNet"]

_Aggregator = AvgPool | GeM | NetVLAD | CRNNetVLAD
_Projection = FCProjection | PCAWhitening


class GeoLocalizationNet(nn.Module):
    """Backbone -> aggregator (-> optional projection): images -> global descriptors.

    Berton et al. CVPR 2022, Fig. 1: the benchmark's single-image retrieval model.
    """

    def __init__(
        self, backbone: Backbone, aggregator: _Aggregator, projection: _Projection | None = None
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


def _aggregator(kind: str, dim: int, *, num_clusters: int, gem_p: float) -> _Aggregator:
    if kind == "avg":
        return AvgPool(dim)
    if kind in ("gem", "avggem"):
        return GeM(dim, p=gem_p, pre_pool=3 if kind == "avggem" else 0)
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
        projection: _Projection | None = None
        if fc_dim is not None:
            projection = FCProjection(agg.out_dim, fc_dim)
        elif pca_dim is not None:
            projection = PCAWhitening(agg.out_dim, pca_dim, whiten=whiten)
        return GeoLocalizationNet(backbone, agg, projection)

    return build


#: Aggregation name -> (FLOPs mode of the published numbers, summary).
AGGREGATIONS: dict[str, tuple[FlopsMode, str]] = {
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

register_model(
    ModelSpec(
        name="resnet18-avggem",
        builder=_geo_builder("resnet18", "avggem"),
        task="descriptor",
        flops_mode="train",
        summary="resnet18 cut after conv4 + 3x3 stride-1 average pooling then GeM (loss study)",
    )
)
