"""The registry of named reference models (importing it does not import torch).

Every registered model is an ``nn.Module`` with

* ``descriptor_dim``: the size of the descriptor that retrieval scores;
* ``embed(images, view=None)``: images (N, 3, H, W) -> descriptors (N, descriptor_dim).

Each entry (:class:`ModelSpec`) says what the model's ``forward`` does (``task``:
``descriptor`` = images -> descriptors; ``pair`` = two image batches -> one logit per pair;
``cross_view`` = ground and aerial views, ``embed(images, view)`` per view), its named input
views with their default sizes, and the mode its FLOPs are reported in.

The families register themselves when their module is imported; the lookups
(:func:`model_names`, :func:`get_spec`, :func:`build_model`) import every module of
:data:`FAMILIES` first, so torch is loaded only when a model is looked up. Families:

* :mod:`reference_models.models.geolocalization`: ``<backbone>-<aggregation>`` for backbones
  ResNet-18/50/101 and VGG16 and aggregations ``avg``, ``gem``, ``netvlad``, ``crn``,
  ``crn2`` (Berton et al., "Deep Visual Geo-localization Benchmark", CVPR 2022; Kim, Dunn,
  Frahm, "Learned Contextual Feature Reweighting for Image Geo-Localization", CVPR 2017);
* :mod:`reference_models.models.siamese`: ``siamese-resnet50`` (the seed paper "Siamese
  Network for Place Recognition").

* :mod:`reference_models.models.crossview`: ``cvm-net-i``, ``cvm-net-ii`` (Hu et al.,
  "CVM-Net: Cross-View Matching Network for Image-Based Ground-to-Aerial Geo-Localization",
  CVPR 2018), ``siamese-xview-resnet50`` and ``siamese-xview-vgg16`` (the PSSR study's
  twins), ``task="cross_view"`` with ``inputs={"ground": (224, 1232), "aerial": (512,
  512)}``; :func:`reference_models.models.accounting.describe_model` accounts them per
  view.

>>> get_spec("resnet18-gem").task, get_spec("siamese-resnet50").inputs["image"]
('descriptor', (128, 384))
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from vprmetrics.errors import InputError

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "FAMILIES",
    "FLOPS_MODES",
    "TASKS",
    "ModelSpec",
    "build_model",
    "get_spec",
    "model_names",
    "register_model",
]

Task = Literal["descriptor", "pair", "cross_view"]
TASKS: tuple[str, ...] = get_args(Task)

#: ``train``: whole model in train mode; ``eval``: whole model in eval mode;
#: ``backbone_eval``: ``model.backbone`` in eval mode, the rest in train mode.
FlopsMode = Literal["train", "eval", "backbone_eval"]
FLOPS_MODES: tuple[str, ...] = get_args(FlopsMode)

#: Modules that register a model family when imported.
FAMILIES: tuple[str, ...] = (
    "reference_models.models.geolocalization",
    "reference_models.models.siamese",
    "reference_models.models.crossview",
)


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry.

    Attributes:
        name: registry name, e.g. ``resnet18-gem``.
        builder: ``builder(**opts) -> nn.Module``.
        task: what ``forward`` computes (see the module docstring).
        inputs: view name -> default input (H, W) of ``embed(images, view)``.
        flops_mode: the mode published FLOPs were counted in (one of :data:`FLOPS_MODES`,
            see :func:`reference_models.models.accounting.flops_mode`).
        summary: one line for listings.
    """

    name: str
    builder: Callable[..., nn.Module]
    task: Task
    inputs: Mapping[str, tuple[int, int]] = field(default_factory=lambda: {"image": (480, 640)})
    flops_mode: FlopsMode = "train"
    summary: str = ""

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise InputError(f"model {self.name!r}: unknown task {self.task!r}, use one of {TASKS}")
        if self.flops_mode not in FLOPS_MODES:
            raise InputError(
                f"model {self.name!r}: unknown FLOPs mode {self.flops_mode!r}, use one of "
                f"{FLOPS_MODES}"
            )


_MODELS: dict[str, ModelSpec] = {}


def _load_families() -> None:
    """Import every family module (a module registers its models on its first import)."""
    for module in FAMILIES:
        importlib.import_module(module)


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the registry (a name can be registered once)."""
    _load_families()
    if spec.name in _MODELS:
        raise InputError(f"model {spec.name!r} is already registered: choose another name")
    _MODELS[spec.name] = spec
    return spec


def model_names() -> list[str]:
    """Sorted registry names."""
    _load_families()
    return sorted(_MODELS)


def get_spec(name: str) -> ModelSpec:
    """The registry entry of ``name``, or an error listing the valid names."""
    _load_families()
    try:
        return _MODELS[name]
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
