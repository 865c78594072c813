r"""Cross-view geo-localization models: a ground panorama against aerial tiles.

Every model here has two branches that do **not** share their convolutional weights (one
for the ground view, one for the aerial view), ``embed(images, view)`` with ``view`` in
:data:`VIEWS`, and ``forward(ground, aerial) -> (ground descriptors, aerial descriptors)``,
both L2-normalised, 4,096-d. Registered with ``task="cross_view"``:

* ``cvm-net-i`` and ``cvm-net-ii`` (Hu et al., "CVM-Net: Cross-View Matching Network for
  Image-Based Ground-to-Aerial Geo-Localization", CVPR 2018). Per view a VGG16
  convolutional trunk: conv1_1 ... conv5_3 with the ReLU after conv5_3 kept and no pool5,
  conv1-conv3 frozen (when a pretrained trunk is loaded, see
  :mod:`reference_models.training.model_setup`), dropout 0.2 after every ReLU of conv4 and
  conv5.

  - CVM-Net-I: a NetVLAD (64 clusters, 32,768-d) per view, then **one** fully connected
    32,768 -> 4,096 layer shared by both views, then L2.
  - CVM-Net-II: per view a 1x1 conv 512 -> 512, then a 3x3 and a 1x1 conv (512 -> 512)
    shared by both views (ReLU after each), **one** NetVLAD shared by both views and a
    shared 32,768 -> 4,096 projection (no bias), then L2.

  NetVLAD is the layer of :class:`reference_models.models.aggregators.NetVLAD` with a bias
  on the assignment conv, as the ``loupe`` NetVLAD that CVM-Net's code uses (its
  ``cluster_biases``). Parameters: CVM-Net-I 2 x 14,714,688 (VGG16) + 2 x 65,600
  (NetVLAD) + 134,221,824 (FC with bias) = 163,782,400; CVM-Net-II 2 x 14,714,688 +
  2 x 262,656 + 2,359,808 + 262,656 + 65,600 + 134,217,728 = 166,860,480.

* ``siamese-xview-resnet50`` and ``siamese-xview-vgg16``: the Siamese twins of Debnath et
  al.'s PSSR study, an ImageNet backbone per view (torchvision ResNet-50 to its global
  average pool, 2,048-d; VGG16 ``features`` with a global average pool, 512-d), a feature
  layer (fully connected to 4,096, our choice of size so that the four models share one
  descriptor size) and L2; retrieval by L2 distance.

>>> m = build_crossview("cvm-net-i")
>>> sum(p.numel() for p in m.parameters())
163782400
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, cast

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from reference_models.models.aggregators import NetVLAD
from reference_models.models.embedder import Embedder
from reference_models.models.registry import ModelSpec, register_model
from reference_models.models.weights import load_tensors
from vprmetrics.errors import InputError

__all__ = [
    "CROSSVIEW_MODELS",
    "VIEWS",
    "BranchView",
    "CVMNetI",
    "CVMNetII",
    "CrossViewSiamese",
    "NetVLADViews",
    "build_crossview",
    "cvm_vgg16_trunk",
]

#: The two views, in the order ``forward`` takes them.
VIEWS: tuple[str, ...] = ("ground", "aerial")
#: CVM-Net's published input sizes (H, W).
CVM_INPUTS = {"ground": (224, 1232), "aerial": (512, 512)}
DESCRIPTOR_DIM = 4096
#: VGG16 blocks: number of 3x3 convs and their output channels.
_VGG_BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
_FROZEN_BLOCKS = 3  # conv1-conv3
_DROPOUT_BLOCKS = (4, 5)


def _he_conv(cin: int, cout: int, size: int) -> nn.Conv2d:
    """A conv initialised as torchvision initialises VGG16: He normal (fan out), bias 0.

    torch's default (uniform, a = sqrt(5), random bias) shrinks the image-dependent part of
    the signal about threefold per layer, so that at conv5_3 of an untrained VGG16 every
    image gives the same descriptor (to 1e-6) and training from scratch collapses.
    """
    conv = nn.Conv2d(cin, cout, size, padding=size // 2)
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    assert conv.bias is not None  # bias=True, the default
    nn.init.zeros_(conv.bias)
    return conv


def cvm_vgg16_trunk(dropout: float = 0.2) -> nn.Sequential:
    """CVM-Net's VGG16 trunk: conv1_1 ... conv5_3 + ReLU, pool1-pool4, no pool5.

    Layers are named ``conv{b}_{i}``, ``relu{b}_{i}``, ``drop{b}_{i}`` (blocks 4 and 5),
    ``pool{b}``. ``frozen_trunk_names`` lists the frozen ones (conv1-conv3).
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    cin = 3
    for b, (n_conv, cout) in enumerate(_VGG_BLOCKS, start=1):
        for i in range(1, n_conv + 1):
            layers[f"conv{b}_{i}"] = _he_conv(cin, cout, 3)
            layers[f"relu{b}_{i}"] = nn.ReLU(inplace=True)
            if b in _DROPOUT_BLOCKS:
                layers[f"drop{b}_{i}"] = nn.Dropout(dropout)
            cin = cout
        if b < len(_VGG_BLOCKS):
            layers[f"pool{b}"] = nn.MaxPool2d(2, 2)
    return nn.Sequential(layers)


def frozen_trunk_names() -> list[str]:
    """Names of the trunk's conv layers that CVM-Net keeps frozen (conv1-conv3)."""
    return [
        f"conv{b}_{i}"
        for b, (n, _) in enumerate(_VGG_BLOCKS[:_FROZEN_BLOCKS], start=1)
        for i in range(1, n + 1)
    ]


def load_vgg16_trunk(trunk: nn.Module, weights_path: str | Path) -> None:
    """Load a local torchvision VGG16 state dict (``features.<i>.*``) into the trunk."""
    state = load_tensors(weights_path)
    convs = [name for name in trunk._modules if name.startswith("conv")]
    tv_index = [
        i
        for i, m in enumerate(torchvision.models.vgg16(weights=None).features)
        if isinstance(m, nn.Conv2d)
    ]
    mapped = {}
    for name, index in zip(convs, tv_index, strict=True):
        for kind in ("weight", "bias"):
            key = f"features.{index}.{kind}"
            if key not in state:
                raise InputError(f"{weights_path} lacks {key}: give a torchvision vgg16 state dict")
            mapped[f"{name}.{kind}"] = state[key]
    trunk.load_state_dict(mapped)


def _freeze(trunk: nn.Module) -> None:
    for name in frozen_trunk_names():
        trunk.get_submodule(name).requires_grad_(False)


class LoupeNetVLAD(NetVLAD):
    """NetVLAD with a bias on the soft-assignment conv (``loupe``'s ``cluster_biases``)."""

    def __init__(self, dim: int = 512, num_clusters: int = 64) -> None:
        super().__init__(dim, num_clusters)
        self.conv = nn.Conv2d(dim, num_clusters, kernel_size=1, bias=True)


def _l2(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x, p=2.0, dim=1)


def _check_view(view: str | None) -> str:
    if view not in VIEWS:
        raise InputError(f"cross-view models embed one of the views {VIEWS}, not {view!r}")
    return view


class NetVLADViews(Protocol):
    """A CVM-Net as its NetVLAD initialisation sees it: per view, the local features and
    the NetVLAD layer that aggregates them."""

    def local_features(self, images: torch.Tensor, view: str) -> torch.Tensor: ...

    def netvlad(self, view: str) -> NetVLAD: ...


class _CrossViewBase(nn.Module):
    """``embed(images, view)`` and ``forward(ground, aerial)`` over per-view branches."""

    descriptor_dim = DESCRIPTOR_DIM

    def embed(self, images: torch.Tensor, view: str | None = None) -> torch.Tensor:
        """(N, 3, H, W) images of ``view`` -> (N, 4096) unit descriptors."""
        raise NotImplementedError

    def forward(
        self, ground: torch.Tensor, aerial: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(ground descriptors, aerial descriptors), both (N, 4096) and L2-normalised."""
        return self.embed(ground, "ground"), self.embed(aerial, "aerial")


class CVMNetI(_CrossViewBase):
    """CVM-Net-I: VGG16 + NetVLAD per view, one shared FC 32,768 -> 4,096, L2."""

    def __init__(self, num_clusters: int = 64, dropout: float = 0.2) -> None:
        super().__init__()
        self.trunks = nn.ModuleDict({v: cvm_vgg16_trunk(dropout) for v in VIEWS})
        self.vlads = nn.ModuleDict({v: LoupeNetVLAD(512, num_clusters) for v in VIEWS})
        self.fc = nn.Linear(512 * num_clusters, DESCRIPTOR_DIM)

    def local_features(self, images: torch.Tensor, view: str) -> torch.Tensor:
        """The (N, 512, H/16, W/16) map that the view's NetVLAD aggregates."""
        return self.trunks[_check_view(view)](images)

    def netvlad(self, view: str) -> NetVLAD:
        return cast(NetVLAD, self.vlads[_check_view(view)])

    def embed(self, images: torch.Tensor, view: str | None = None) -> torch.Tensor:
        view = _check_view(view)
        return _l2(self.fc(self.vlads[view](self.trunks[view](images))))


class CVMNetII(_CrossViewBase):
    """CVM-Net-II: VGG16 + per-view 1x1 conv, shared 3x3 + 1x1 convs, one NetVLAD, 4,096."""

    def __init__(self, num_clusters: int = 64, dropout: float = 0.2) -> None:
        super().__init__()
        self.trunks = nn.ModuleDict({v: cvm_vgg16_trunk(dropout) for v in VIEWS})
        self.view_convs = nn.ModuleDict({v: _he_conv(512, 512, 1) for v in VIEWS})
        self.shared = nn.Sequential(
            OrderedDict(
                relu0=nn.ReLU(),
                conv3x3=_he_conv(512, 512, 3),
                relu1=nn.ReLU(),
                conv1x1=_he_conv(512, 512, 1),
                relu2=nn.ReLU(),
            )
        )
        self.vlad = LoupeNetVLAD(512, num_clusters)
        self.projection = nn.Linear(512 * num_clusters, DESCRIPTOR_DIM, bias=False)

    def local_features(self, images: torch.Tensor, view: str) -> torch.Tensor:
        view = _check_view(view)
        return self.shared(self.view_convs[view](self.trunks[view](images)))

    def netvlad(self, view: str) -> NetVLAD:
        return self.vlad

    def embed(self, images: torch.Tensor, view: str | None = None) -> torch.Tensor:
        return _l2(self.projection(self.vlad(self.local_features(images, _check_view(view)))))


def _resnet50_features() -> tuple[nn.Module, int]:
    full = torchvision.models.resnet50(weights=None)
    full.fc = nn.Identity()
    return full, 2048


def _vgg16_features() -> tuple[nn.Module, int]:
    body = nn.Sequential(
        torchvision.models.vgg16(weights=None).features, nn.AdaptiveAvgPool2d(1), nn.Flatten(1)
    )
    return body, 512


class CrossViewSiamese(_CrossViewBase):
    """Twin backbones without weight sharing, a feature layer per view, L2."""

    def __init__(self, make_backbone: Callable[[], tuple[nn.Module, int]]) -> None:
        super().__init__()
        branches = {}
        for view in VIEWS:
            body, dim = make_backbone()
            branches[view] = nn.Sequential(
                OrderedDict(backbone=body, feature=nn.Linear(dim, DESCRIPTOR_DIM))
            )
        self.branches = nn.ModuleDict(branches)

    def embed(self, images: torch.Tensor, view: str | None = None) -> torch.Tensor:
        return _l2(self.branches[_check_view(view)](images))


class BranchView(nn.Module):
    """One branch of a cross-view model as a descriptor model: ``embed(images)``."""

    def __init__(self, model: nn.Module, view: str) -> None:
        super().__init__()
        self.model = model
        self.view = _check_view(view)
        self.descriptor_dim = int(getattr(model, "descriptor_dim", DESCRIPTOR_DIM))

    def embed(self, images: torch.Tensor, view: str | None = None) -> torch.Tensor:
        return cast(Embedder, self.model).embed(images, self.view)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.embed(images)


def _cvm(cls: type[CVMNetI | CVMNetII]) -> Callable[..., nn.Module]:
    def build(
        *, num_clusters: int = 64, dropout: float = 0.2, weights_path: str | Path | None = None
    ) -> nn.Module:
        model = cls(num_clusters=num_clusters, dropout=dropout)
        if weights_path is not None:
            for trunk in model.trunks.values():
                load_vgg16_trunk(trunk, weights_path)
        for trunk in model.trunks.values():
            _freeze(trunk)
        return model

    return build


#: Registry name -> (builder, one-line summary). The only list of the cross-view models.
CROSSVIEW_MODELS: dict[str, tuple[Callable[..., nn.Module], str]] = {
    "cvm-net-i": (
        _cvm(CVMNetI),
        "CVM-Net-I: VGG16 + NetVLAD per view, shared FC 32768->4096, L2 (Hu et al. 2018)",
    ),
    "cvm-net-ii": (
        _cvm(CVMNetII),
        "CVM-Net-II: VGG16, per-view 1x1 + shared 3x3/1x1 convs, shared NetVLAD, 4096",
    ),
    "siamese-xview-resnet50": (
        lambda: CrossViewSiamese(_resnet50_features),
        "ResNet-50 twins without weight sharing, FC 2048->4096, L2 (PSSR study)",
    ),
    "siamese-xview-vgg16": (
        lambda: CrossViewSiamese(_vgg16_features),
        "VGG16 twins without weight sharing, GAP, FC 512->4096, L2 (PSSR study)",
    ),
}


def build_crossview(name: str, **opts: object) -> nn.Module:
    """Build a cross-view model by registry name (random weights)."""
    if name not in CROSSVIEW_MODELS:
        raise InputError(
            f"unknown cross-view model {name!r}: choose one of {list(CROSSVIEW_MODELS)}"
        )
    return CROSSVIEW_MODELS[name][0](**opts)


for _name, (_builder, _summary) in CROSSVIEW_MODELS.items():
    register_model(
        ModelSpec(
            name=_name,
            builder=_builder,
            task="cross_view",
            inputs=dict(CVM_INPUTS),
            flops_mode="eval",
            summary=_summary,
        )
    )
