r"""Where a NetVLAD layer looks: per-location heatmaps of its (masked) soft assignment.

Figure 4 of the heads study shows, for one query, the NetVLAD soft assignment summed over
the clusters, for NetVLAD, CRN and CRN2. With :math:`a_k(x_i)` the soft assignment of
location :math:`i` and :math:`m_i` the CRN mask (1 for plain NetVLAD):

* ``assignment``: :math:`\sum_k m_i a_k(x_i) = m_i` (the softmax sums to 1 over clusters,
  so for plain NetVLAD it is flat and for CRN it is the mask);
* ``contribution``: :math:`\sum_k m_i a_k(x_i) \lVert x_i - c_k \rVert`, how much location
  :math:`i` adds to the residual sums :math:`V_k` before normalisation, which differs
  across locations for plain NetVLAD too.

>>> import torch
>>> from reference_models.models.aggregators import NetVLAD
>>> maps = assignment_heatmaps(NetVLAD(8, 4), torch.randn(1, 8, 3, 5))
>>> maps["assignment"].shape, bool(torch.allclose(maps["assignment"], torch.ones(1, 3, 5)))
(torch.Size([1, 3, 5]), True)
"""

from __future__ import annotations

import torch
from torch import nn

from reference_models.models.aggregators import CRNNetVLAD, NetVLAD, l2n

__all__ = ["assignment_heatmaps"]


@torch.no_grad()
def assignment_heatmaps(aggregator: nn.Module, features: torch.Tensor) -> dict[str, torch.Tensor]:
    """(N, H, W) ``assignment`` and ``contribution`` maps of a :class:`NetVLAD` or
    :class:`CRNNetVLAD` for the feature map ``features`` (N, C, H, W)."""
    if isinstance(aggregator, CRNNetVLAD):
        layer, mask = aggregator.netvlad, aggregator.crn(features)
    elif isinstance(aggregator, NetVLAD):
        layer, mask = aggregator, torch.ones_like(features[:, :1])
    else:
        raise TypeError(f"{type(aggregator).__name__} has no soft assignment")
    x = l2n(features)
    assign = layer.soft_assignment(x) * mask  # (N, K, H, W)
    residual = x.unsqueeze(1) - layer.centroids[None, :, :, None, None]  # (N, K, C, H, W)
    contribution = (assign * residual.norm(dim=2)).sum(dim=1)
    return {"assignment": assign.sum(dim=1), "contribution": contribution}
