r"""Cross-view triplet losses over every in-batch triplet, in both directions.

A batch holds B pairs (ground g_i, aerial a_i) with unit descriptors; the distance is the
squared Euclidean distance of unit vectors, :math:`d_{ij} = \|g_i - a_j\|^2 = 2 - 2 g_i
\cdot a_j`. Every pair is the positive of its anchor and every other item of the other
view a negative, so a batch has :func:`in_batch_triplets` = 2 B (B - 1) triplets:
B (B - 1) ground -> aerial (anchor g_i, positive a_i, negative a_j) and B (B - 1)
aerial -> ground (anchor a_i, positive g_i, negative g_j).

* :func:`weighted_soft_margin_triplet` (Hu et al., CVM-Net, CVPR 2018, as its TF code
  computes it): :math:`\ln(1 + e^{\alpha (d_{pos} - d_{neg})})`, alpha 10. The code sums
  the whole B x B matrix of each direction (the diagonal adds the constant ln 2 per
  anchor, no gradient) and divides by B (B - 1); the two directions are averaged.
* :func:`max_margin_triplet` (Debnath et al.'s PSSR study, equation 1):
  :math:`\max(0, d_{pos} - d_{neg} + m)`, averaged over the 2 B (B - 1) triplets. The
  margin (0.2) is our default (FaceNet's value for squared distances of unit vectors).

>>> g = torch.tensor([[1.0, 0.0], [0.0, 1.0]]); a = g.clone()
>>> round(float(weighted_soft_margin_triplet(g, a)), 6)  # ln(1+e^-20) + ln 2
0.693147
>>> in_batch_triplets(12)
264
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "CROSSVIEW_LOSS_FUNCTIONS",
    "cross_distances",
    "in_batch_triplets",
    "max_margin_triplet",
    "weighted_soft_margin_triplet",
]


def in_batch_triplets(batch: int) -> int:
    """2 B (B - 1): the triplets of a batch of B pairs, both directions."""
    return 2 * batch * (batch - 1)


def cross_distances(ground: torch.Tensor, aerial: torch.Tensor) -> torch.Tensor:
    """(B, B) matrix ``d[i, j] = 2 - 2 g_i . a_j`` (squared distance of unit vectors)."""
    return 2.0 - 2.0 * ground.float() @ aerial.float().T


def weighted_soft_margin_triplet(
    ground: torch.Tensor, aerial: torch.Tensor, alpha: float = 10.0
) -> torch.Tensor:
    """CVM-Net's loss (module docstring), ``softplus`` for ``ln(1 + exp(.))``."""
    d = cross_distances(ground, aerial)
    b = d.shape[0]
    pos = d.diagonal()
    pairs = b * (b - 1)
    g2a = F.softplus(alpha * (pos[:, None] - d)).sum() / pairs  # anchor g_i: row i
    a2g = F.softplus(alpha * (pos[None, :] - d)).sum() / pairs  # anchor a_j: column j
    return (g2a + a2g) / 2.0


def max_margin_triplet(
    ground: torch.Tensor, aerial: torch.Tensor, margin: float = 0.2
) -> torch.Tensor:
    """Mean of ``max(0, d_pos - d_neg + margin)`` over the 2 B (B - 1) triplets."""
    d = cross_distances(ground, aerial)
    b = d.shape[0]
    pos = d.diagonal()
    off = ~torch.eye(b, dtype=torch.bool, device=d.device)
    g2a = F.relu(pos[:, None] - d + margin)[off]
    a2g = F.relu(pos[None, :] - d + margin)[off]
    return torch.cat([g2a, a2g]).mean()


#: Loss name (``TrainConfig.loss``) -> (function, its option name, default value).
CROSSVIEW_LOSS_FUNCTIONS = {
    "soft-margin-triplet": (weighted_soft_margin_triplet, "alpha", 10.0),
    "max-margin-triplet": (max_margin_triplet, "margin", 0.2),
}
