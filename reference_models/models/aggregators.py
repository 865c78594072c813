"""Aggregation layers: feature map (N, C, H, W) -> global descriptor (N, D).

* :class:`AvgPool` and :class:`GeM` (Radenovic, Tolias, Chum, "Fine-tuning CNN Image
  Retrieval with No Human Annotation", TPAMI 2018).
* :class:`NetVLAD` (Arandjelovic et al., "NetVLAD: CNN architecture for weakly supervised
  place recognition", CVPR 2016) and its k-means initialisation
  :func:`init_netvlad_from_features`.
* :class:`CRN` (Kim, Dunn, Frahm, "Learned Contextual Feature Reweighting for Image
  Geo-Localization", CVPR 2017), our :class:`CRN2` variant, and :class:`CRNNetVLAD`, NetVLAD
  whose soft assignment is multiplied by the mask.
* :class:`FCProjection` and :class:`PCAWhitening`, optional projections after aggregation.

Settings follow Berton et al., "Deep Visual Geo-localization Benchmark", CVPR 2022. Work
done by plain functions (normalize, pow, softmax, the VLAD sums, interpolate) counts 0
FLOPs under the benchmark's rules, so it is kept out of modules on purpose.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.cluster.vq import kmeans2
from torch import nn

from vprmetrics.errors import InputError

__all__ = [
    "CRN",
    "CRN2",
    "AvgPool",
    "CRNNetVLAD",
    "FCProjection",
    "GeM",
    "NetVLAD",
    "PCAWhitening",
    "init_netvlad_from_features",
    "netvlad_alpha",
    "sample_local_descriptors",
]


def l2n(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """L2-normalise ``x`` along ``dim`` (per location for a feature map)."""
    return F.normalize(x, p=2.0, dim=dim)


class AvgPool(nn.Module):
    """Global average pooling of the per-location L2-normalised map: ``f_c = mean_hw x_chw``.

    No parameters; output dim C, not normalised again (benchmark's ``avg`` aggregation).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.out_dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, C)."""
        return l2n(x).mean(dim=(2, 3))


class GeM(nn.Module):
    r"""Generalized-mean pooling, Radenovic et al. TPAMI 2018.

    .. math:: f_c = \Big(\frac{1}{HW}\sum_{h,w} \max(\hat x_{chw}, \epsilon)^p\Big)^{1/p}

    with :math:`\hat x` the feature map L2-normalised per location *before* pooling, one
    learnable :math:`p` shared by all channels (initial 3), :math:`\epsilon = 10^{-6}`. The
    pooled vector is not normalised again (Berton et al. CVPR 2022). With ``pre_pool=k``
    (odd) the map is first averaged over k x k windows, stride 1, padding k // 2 (padding
    left out of the mean), so the map keeps its size:
    :math:`x'_{chw} = \mathrm{mean}_{|i| \le k/2, |j| \le k/2}\, x_{c,h+i,w+j}`
    (the loss study's average pooling before GeM). No parameters are added.

    >>> x = torch.zeros(1, 1, 1, 3)
    >>> x[0, 0, 0, 0] = 3.0
    >>> F.avg_pool2d(x, 3, 1, 1, count_include_pad=False).flatten().tolist()
    [1.5, 1.0, 0.0]
    """

    def __init__(self, dim: int, p: float = 3.0, eps: float = 1e-6, pre_pool: int = 0) -> None:
        super().__init__()
        if pre_pool < 0 or (pre_pool and pre_pool % 2 == 0):
            raise InputError(f"pre_pool {pre_pool} must be 0 (none) or an odd window size")
        self.dim = dim
        self.out_dim = dim
        self.eps = eps
        self.pre_pool = pre_pool
        self.p = nn.Parameter(torch.full((1,), float(p)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, C)."""
        if self.pre_pool:
            k = self.pre_pool
            x = F.avg_pool2d(x, k, stride=1, padding=k // 2, count_include_pad=False)
        x = l2n(x).clamp(min=self.eps).pow(self.p)
        return x.mean(dim=(2, 3)).pow(1.0 / self.p)


class NetVLAD(nn.Module):
    r"""NetVLAD layer, Arandjelovic et al. CVPR 2016.

    With :math:`x_i` the L2-normalised local descriptors, :math:`c_k` the K centroids and
    the soft assignment :math:`a_k(x_i) = \mathrm{softmax}_k(w_k^\top x_i)` (a 1x1 conv
    without bias),

    .. math:: V_{k} = \sum_i m_i\, a_k(x_i)\,(x_i - c_k)

    (:math:`m_i = 1`, or a CRN mask), then intra-normalisation (L2 of each :math:`V_k`),
    flattening cluster-major (``K * C``) and a final L2. Parameters: ``2 * K * C``.
    """

    def __init__(self, dim: int, num_clusters: int = 64) -> None:
        super().__init__()
        self.dim = dim
        self.num_clusters = num_clusters
        self.out_dim = dim * num_clusters
        self.conv = nn.Conv2d(dim, num_clusters, kernel_size=1, bias=False)
        self.centroids = nn.Parameter(torch.rand(num_clusters, dim))

    def soft_assignment(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) L2-normalised map -> (N, K, H, W) soft assignment."""
        return F.softmax(self.conv(x), dim=1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(N, C, H, W) -> (N, K*C); ``mask`` (N, 1, H, W) multiplies the soft assignment."""
        x = l2n(x)
        assign = self.soft_assignment(x)
        if mask is not None:
            assign = assign * mask
        assign = assign.flatten(2)  # (N, K, HW)
        feats = x.flatten(2)  # (N, C, HW)
        vlad = torch.bmm(assign, feats.transpose(1, 2))  # sum_i a_k(x_i) x_i
        vlad = vlad - assign.sum(dim=2, keepdim=True) * self.centroids.unsqueeze(0)
        vlad = l2n(vlad, dim=2)  # intra-normalisation
        return l2n(vlad.flatten(1), dim=1)


def netvlad_alpha(descriptors: torch.Tensor, centroids: torch.Tensor) -> float:
    r"""The benchmark's alpha: :math:`-\ln(0.01) / \mathrm{mean}_i(s_i^{(1)} - s_i^{(2)})`.

    :math:`s_i^{(1)} \ge s_i^{(2)}` are the two largest cosine similarities of descriptor
    :math:`i` to the unit centroids.
    """
    sims = l2n(descriptors, dim=1) @ l2n(centroids, dim=1).T
    top2 = sims.topk(2, dim=1).values
    return float(-math.log(0.01) / (top2[:, 0] - top2[:, 1]).mean().item())


def _find_netvlad(model: nn.Module) -> NetVLAD:
    if isinstance(model, NetVLAD):
        return model
    layers = [m for m in model.modules() if isinstance(m, NetVLAD)]
    if len(layers) != 1:
        raise InputError(
            f"{type(model).__name__} holds {len(layers)} NetVLAD layers, expected 1: "
            "pass the NetVLAD layer itself"
        )
    return layers[0]


@torch.no_grad()
def init_netvlad_from_features(
    model: nn.Module,
    local_descriptors: torch.Tensor | np.ndarray,
    *,
    iterations: int = 100,
    seed: int = 0,
) -> float:
    r"""Initialise a NetVLAD layer from local descriptors; return alpha.

    Berton et al. CVPR 2022 (after Arandjelovic et al. CVPR 2016): the descriptors (50,000 in
    the benchmark: 100 random locations of 500 random training images, backbone in eval mode)
    are L2-normalised, clustered by k-means into K clusters (``iterations`` Lloyd steps,
    k-means++ seeding with ``seed``), then

    * ``centroids`` = the k-means centres,
    * ``alpha`` = :func:`netvlad_alpha` of the descriptors and the centres,
    * ``conv.weight`` = alpha x unit centres.

    Args:
        model: a :class:`NetVLAD` or a model holding exactly one.
        local_descriptors: (M, C) array, M >= K.
    """
    layer = _find_netvlad(model)
    desc = torch.as_tensor(np.asarray(local_descriptors, dtype=np.float32))
    if desc.ndim != 2 or desc.shape[1] != layer.dim or desc.shape[0] < layer.num_clusters:
        raise InputError(
            f"local_descriptors has shape {tuple(desc.shape)}, expected (M, {layer.dim}) "
            f"with M >= {layer.num_clusters}: give more descriptors or fewer clusters"
        )
    desc = l2n(desc, dim=1)
    centres, _ = kmeans2(
        desc.numpy().astype(np.float64),
        layer.num_clusters,
        iter=iterations,
        minit="++",
        missing="warn",
        rng=np.random.default_rng(seed),
    )
    centres_t = torch.as_tensor(centres, dtype=torch.float32)
    alpha = netvlad_alpha(desc, centres_t)
    weight = alpha * l2n(centres_t, dim=1)
    device = layer.centroids.device
    layer.centroids.copy_(centres_t.to(device))
    layer.conv.weight.copy_(weight[:, :, None, None].to(device))
    return alpha


@torch.no_grad()
def sample_local_descriptors(
    backbone: nn.Module,
    images: torch.Tensor,
    *,
    per_image: int = 100,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """L2-normalised local descriptors at ``per_image`` random locations of each image.

    The sampling of Berton et al. CVPR 2022 for :func:`init_netvlad_from_features` (there:
    500 random training images, 100 locations each). The backbone runs in eval mode; its
    previous mode is restored afterwards. Call once per batch and concatenate.

    Args:
        backbone: images (B, 3, H, W) -> feature map (B, C, h, w).
        images: one batch of images, on the backbone's device.
        per_image: locations drawn without replacement per image (at most h * w).
        generator: CPU random generator for reproducible draws.

    Returns:
        (B * per_image, C) float32 tensor on the CPU.
    """
    was_training = backbone.training
    backbone.eval()
    try:
        feats = l2n(backbone(images)).flatten(2).transpose(1, 2).float().cpu()  # (B, hw, C)
    finally:
        backbone.train(was_training)
    if per_image > feats.shape[1]:
        raise InputError(
            f"per_image={per_image} but the feature map has only {feats.shape[1]} locations: "
            "use larger images or fewer locations"
        )
    picks = [torch.randperm(feats.shape[1], generator=generator)[:per_image] for _ in feats]
    return torch.cat([f[idx] for f, idx in zip(feats, picks, strict=True)])


class _MaskHead(nn.Module):
    """Shared tail of CRN and CRN2: concat -> ReLU -> fixed 1x1 (weight 1, bias 0) -> ReLU.

    The 1x1 accumulation conv sums the 84 filter responses; its 85 numbers are parameters
    (counted, as in ``2068*C + 169``) that are never trained (``requires_grad`` False).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.relu_filters = nn.ReLU()
        self.accumulate = nn.Conv2d(channels, 1, kernel_size=1)
        nn.init.ones_(self.accumulate.weight)
        assert self.accumulate.bias is not None  # built with bias=True, Conv2d's default
        nn.init.zeros_(self.accumulate.bias)
        self.accumulate.requires_grad_(False)
        self.relu_mask = nn.ReLU()

    def forward(self, responses: list[torch.Tensor]) -> torch.Tensor:
        """Concatenate the filter responses and accumulate them into a (N, 1, h, w) mask."""
        return self.relu_mask(self.accumulate(self.relu_filters(torch.cat(responses, dim=1))))


class CRN(nn.Module):
    """Contextual Reweighting Network mask, Kim, Dunn, Frahm CVPR 2017.

    On the L2-normalised map: 3x3 average pool stride 2 (ceil mode), parallel convolutions
    3x3x32, 5x5x32, 7x7x20 (with biases, "same" padding), concatenation (84), ReLU, fixed 1x1
    accumulation, ReLU, bilinear x2 upsampling back to the feature size. Parameters:
    ``2068 * C + 169`` (529,577 for C = 256).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.pool = nn.AvgPool2d(kernel_size=3, stride=2, ceil_mode=True)
        self.filters = nn.ModuleList(
            nn.Conv2d(dim, out, kernel_size=k, padding=k // 2)
            for k, out in ((3, 32), (5, 32), (7, 20))
        )
        self.head = _MaskHead(84)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> reweighting mask (N, 1, H, W)."""
        pooled = self.pool(l2n(x))
        mask = self.head([conv(pooled) for conv in self.filters])
        return F.interpolate(mask, size=x.shape[-2:], mode="bilinear", align_corners=False)


class CRN2(nn.Module):
    """Our CRN2 variant of the :class:`CRN` mask.

    A "CRN2" mask of about 245k parameters (stacked and dilated 3x3 convolutions, no pooling
    or upsampling) appears in the literature without a public definition; this one matches
    that count. Shared 3x3 trunk C -> 80 with ReLU, then parallel 3x3 convolutions
    80 -> 32/32/20 with dilations 1/2/3, the same concat/ReLU/fixed 1x1/ReLU tail as
    :class:`CRN`, no pooling or upsampling. Parameters: ``720 * C + 60,729`` (245,049 for C = 256).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.trunk = nn.Conv2d(dim, 80, kernel_size=3, padding=1)
        self.relu_trunk = nn.ReLU()
        self.filters = nn.ModuleList(
            nn.Conv2d(80, out, kernel_size=3, padding=d, dilation=d)
            for d, out in ((1, 32), (2, 32), (3, 20))
        )
        self.head = _MaskHead(84)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> reweighting mask (N, 1, H, W)."""
        trunk = self.relu_trunk(self.trunk(l2n(x)))
        return self.head([conv(trunk) for conv in self.filters])


class CRNNetVLAD(nn.Module):
    r"""NetVLAD whose soft assignment is multiplied by a contextual reweighting mask.

    Kim et al. CVPR 2017: :math:`V_k = \sum_i m_i a_k(x_i)(x_i - c_k)` with :math:`m_i` the
    mask of :class:`CRN` (or :class:`CRN2`) computed from the same feature map.
    """

    def __init__(self, dim: int, num_clusters: int = 64, variant: str = "crn") -> None:
        super().__init__()
        if variant not in ("crn", "crn2"):
            raise InputError(f"unknown CRN variant {variant!r}: choose 'crn' or 'crn2'")
        self.dim = dim
        self.netvlad = NetVLAD(dim, num_clusters)
        self.crn = CRN(dim) if variant == "crn" else CRN2(dim)
        self.out_dim = self.netvlad.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, K*C)."""
        return self.netvlad(x, mask=self.crn(x))


class FCProjection(nn.Module):
    """Fully connected projection ``in_dim -> out_dim`` followed by L2 normalisation."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.fc = nn.Linear(in_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_dim) -> (N, out_dim), unit norm."""
        return l2n(self.fc(x))


class PCAWhitening(nn.Module):
    r"""PCA (optionally whitened) projection fitted at test time, then L2.

    :math:`y = \mathrm{diag}(\lambda_{1..d} + \epsilon)^{-1/2} U_d^\top (x - \mu)` with
    :math:`U_d, \lambda` the top-d eigenvectors/values of the covariance of the fitting set
    (whitening as in Arandjelovic et al. CVPR 2016); without whitening the scale is 1.
    Stored as buffers (not trained); call :meth:`fit` before use.
    """

    mean: torch.Tensor
    components: torch.Tensor

    def __init__(self, in_dim: int, out_dim: int, *, whiten: bool = True, eps: float = 1e-9):
        super().__init__()
        if out_dim > in_dim:
            raise InputError(f"PCA out_dim {out_dim} > in_dim {in_dim}: choose out_dim <= {in_dim}")
        self.out_dim = out_dim
        self.whiten = whiten
        self.eps = eps
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("components", torch.eye(in_dim)[:out_dim].clone())

    @torch.no_grad()
    def fit(self, descriptors: torch.Tensor) -> PCAWhitening:
        """Fit mean and (scaled) components on (M, in_dim) descriptors, M >= 2."""
        x = descriptors.to(torch.float64)
        if x.ndim != 2 or x.shape[1] != self.mean.numel() or x.shape[0] < 2:
            raise InputError(
                f"PCA fit got shape {tuple(x.shape)}, expected (M >= 2, {self.mean.numel()})"
            )
        mean = x.mean(dim=0)
        _, s, vh = torch.linalg.svd(x - mean, full_matrices=False)
        k = min(self.out_dim, vh.shape[0])
        comps = torch.zeros_like(self.components, dtype=torch.float64)
        comps[:k] = vh[:k]
        if self.whiten:
            var = s[:k] ** 2 / (x.shape[0] - 1)
            comps[:k] = comps[:k] / torch.sqrt(var + self.eps)[:, None]
        self.mean.copy_(mean.to(self.mean.dtype))
        self.components.copy_(comps.to(self.components.dtype))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_dim) -> (N, out_dim), unit norm."""
        return l2n((x - self.mean) @ self.components.T)
