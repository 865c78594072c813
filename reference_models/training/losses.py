"""Metric-learning losses of the benchmark and of the loss study, written in plain torch.

* :func:`triplet_margin_loss`: the benchmark's training loss (Berton et al., "Deep Visual
  Geo-localization Benchmark", CVPR 2022): explicit (query, positive, negative) triplets,
  margin 0.1, summed over the triplets of a batch and divided by their number (the mean),
  Euclidean distance of the descriptors as given, as ``torch.nn.TripletMarginLoss``.
* :class:`TripletMarginLoss`, :class:`ContrastiveLoss`, :class:`MultiSimilarityLoss` and
  :class:`MultiSimilarityMiner`: the batch losses of the loss study with the semantics that
  pytorch-metric-learning (PML, Musgrave et al., "A Metric Learning Reality Check", ECCV
  2020) documents for them, re-implemented here (no dependency): embeddings are
  L2-normalised, pairs and triplets come from labels (same label = positive, ``i != j``)
  or from an explicit pair mask, and the reducers are PML's defaults:

  - contrastive: ``relu(d_ap - m_pos)`` and ``relu(m_neg - d_an)`` (d Euclidean), each
    averaged over its non-zero terms ("AvgNonZeroReducer"), then summed;
  - triplet: ``relu(d_ap - d_an + margin)`` over all label triplets, averaged over the
    non-zero terms;
  - multi-similarity (Wang et al., CVPR 2019), with S the cosine similarity, per anchor i:
    ``1/alpha log(1 + sum_P exp(-alpha (S_ip - base))) +
    1/beta log(1 + sum_N exp(beta (S_in - base)))``, averaged over all anchors
    ("MeanReducer"); pairs are usually those of :class:`MultiSimilarityMiner`.

:func:`build_loss` builds the batch loss a
:class:`~reference_models.training.config.TrainConfig` names, with the loss study's
settings: contrastive ``pos_margin=0``, ``neg_margin=1``; multi-similarity ``alpha=1,
beta=50, base=0`` with the miner's ``epsilon=0.1``; triplet ``margin=0.1``
(``loss_options`` override them).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reference_models.training.config import TrainConfig
from vprmetrics.errors import InputError

__all__ = [
    "ContrastiveLoss",
    "MultiSimilarityLoss",
    "MultiSimilarityMiner",
    "TripletMarginLoss",
    "avg_non_zero",
    "build_loss",
    "pair_masks",
    "triplet_margin_loss",
]


def triplet_margin_loss(
    anchors: torch.Tensor,
    positives: torch.Tensor,
    negatives: torch.Tensor,
    margin: float = 0.1,
    eps: float = 1e-6,
) -> torch.Tensor:
    r"""Mean over triplets of :math:`\max(0, \|a - p + \epsilon\| - \|a - n + \epsilon\| + m)`.

    The benchmark's loss: ``anchors`` and ``positives`` (B, D), ``negatives`` (B, K, D); the
    B*K triplets (a_b, p_b, n_bk) are summed and divided by B*K. ``eps`` is added to the
    difference as in ``torch.nn.functional.pairwise_distance``, so the value equals
    ``torch.nn.TripletMarginLoss(margin, reduction="sum")(...) / (B * K)``.
    """
    if negatives.ndim == 2:
        negatives = negatives.unsqueeze(1)
    a = anchors.unsqueeze(1)
    d_ap = (a - positives.unsqueeze(1) + eps).norm(dim=-1)  # (B, 1)
    d_an = (a - negatives + eps).norm(dim=-1)  # (B, K)
    return F.relu(d_ap - d_an + margin).mean()


def avg_non_zero(losses: torch.Tensor) -> torch.Tensor:
    """PML's AvgNonZeroReducer: sum / number of terms > 0 (0 when none, graph kept)."""
    count = (losses > 0).sum()
    if count == 0:
        return losses.sum() * 0.0
    return losses.sum() / count


def pair_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, N) boolean masks of positive pairs (same label, i != j) and negative pairs."""
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(labels.numel(), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def _masks(
    labels: torch.Tensor | None, masks: tuple[torch.Tensor, torch.Tensor] | None
) -> tuple[torch.Tensor, torch.Tensor]:
    if masks is not None:
        return masks[0].bool(), masks[1].bool()
    if labels is None:
        raise ValueError("give labels or (pos_mask, neg_mask)")
    return pair_masks(labels)


def _distances(embeddings: torch.Tensor) -> torch.Tensor:
    """Euclidean distances of the L2-normalised embeddings (PML ``LpDistance``)."""
    x = F.normalize(embeddings.float(), dim=1)
    sq = (2.0 - 2.0 * x @ x.T).clamp(min=0.0)
    # sqrt has an infinite gradient at 0: keep exact zeros out of it
    zero = sq <= 0.0
    return torch.where(zero, torch.zeros_like(sq), sq.masked_fill(zero, 1.0).sqrt())


class ContrastiveLoss(nn.Module):
    r"""Contrastive loss (Hadsell, Chopra, LeCun, CVPR 2006), PML semantics.

    .. math:: L = \mathrm{avg}_{>0}\,[d_{ap} - m_{pos}]_+ + \mathrm{avg}_{>0}\,[m_{neg} - d_{an}]_+

    over ordered positive pairs (a, p) and negative pairs (a, n); d is the Euclidean
    distance of the L2-normalised embeddings.
    """

    def __init__(self, pos_margin: float = 0.0, neg_margin: float = 1.0) -> None:
        super().__init__()
        self.pos_margin = pos_margin
        self.neg_margin = neg_margin

    def forward(
        self,
        embeddings: torch.Tensor,
        labels: torch.Tensor | None = None,
        masks: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Loss of (N, D) ``embeddings`` with pairs from ``labels`` or from ``masks``."""
        pos, neg = _masks(labels, masks)
        d = _distances(embeddings)
        pos_loss = F.relu(d[pos] - self.pos_margin)
        neg_loss = F.relu(self.neg_margin - d[neg])
        return avg_non_zero(pos_loss) + avg_non_zero(neg_loss)


class TripletMarginLoss(nn.Module):
    r"""Triplet margin loss over all label triplets, PML semantics.

    :math:`L = \mathrm{avg}_{>0}\,[d_{ap} - d_{an} + m]_+` over every (a, p, n) with
    ``labels[a] == labels[p]``, ``a != p`` and ``labels[n] != labels[a]``; d Euclidean on
    L2-normalised embeddings. (The benchmark's own loss is :func:`triplet_margin_loss`.)
    """

    def __init__(self, margin: float = 0.1) -> None:
        super().__init__()
        self.margin = margin

    def forward(
        self,
        embeddings: torch.Tensor,
        labels: torch.Tensor | None = None,
        masks: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Loss of (N, D) ``embeddings``; triplets from ``labels`` or from ``masks``."""
        pos, neg = _masks(labels, masks)
        d = _distances(embeddings)
        valid = pos.unsqueeze(2) & neg.unsqueeze(1)  # (a, p, n)
        losses = F.relu(d.unsqueeze(2) - d.unsqueeze(1) + self.margin)[valid]
        return avg_non_zero(losses)


class MultiSimilarityMiner(nn.Module):
    r"""The multi-similarity miner (Wang et al. CVPR 2019), PML semantics.

    With S the cosine similarity, for anchor a a positive p is kept when
    :math:`S_{ap} - \epsilon < \max_n S_{an}` and a negative n when
    :math:`S_{an} + \epsilon > \min_p S_{ap}` (maxima and minima over the anchor's candidate
    pairs; an anchor without negatives keeps no positive and vice versa).
    """

    def __init__(self, epsilon: float = 0.1) -> None:
        super().__init__()
        self.epsilon = epsilon

    @torch.no_grad()
    def forward(
        self,
        embeddings: torch.Tensor,
        labels: torch.Tensor | None = None,
        masks: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mined (pos_mask, neg_mask), both (N, N) booleans."""
        pos, neg = _masks(labels, masks)
        x = F.normalize(embeddings.float(), dim=1)
        s = x @ x.T
        inf = torch.tensor(float("inf"), device=s.device)
        max_neg = torch.where(neg, s, -inf).amax(dim=1, keepdim=True)
        min_pos = torch.where(pos, s, inf).amin(dim=1, keepdim=True)
        return pos & (s - self.epsilon < max_neg), neg & (s + self.epsilon > min_pos)


class MultiSimilarityLoss(nn.Module):
    r"""Multi-similarity loss (Wang et al. CVPR 2019), PML semantics.

    .. math::
        L = \frac{1}{N}\sum_i \Big[\frac{1}{\alpha}\log\big(1 + \sum_{p \in P_i}
        e^{-\alpha (S_{ip} - \lambda)}\big) + \frac{1}{\beta}\log\big(1 + \sum_{n \in N_i}
        e^{\beta (S_{in} - \lambda)}\big)\Big]

    with S the cosine similarity, :math:`\lambda` = ``base`` and the mean over all N
    anchors (anchors without pairs add 0). With ``miner`` set (default: epsilon 0.1), the
    pairs are the miner's. As in PML, the loss is 0 when at most one pair of each kind is
    left.
    """

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 50.0,
        base: float = 0.0,
        miner: MultiSimilarityMiner | None = None,
    ) -> None:
        super().__init__()
        self.alpha = alpha
        self.beta = beta
        self.base = base
        self.miner = miner

    def forward(
        self,
        embeddings: torch.Tensor,
        labels: torch.Tensor | None = None,
        masks: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Loss of (N, D) ``embeddings``; pairs from ``labels``/``masks`` (then the miner)."""
        pos, neg = _masks(labels, masks)
        if self.miner is not None:
            pos, neg = self.miner(embeddings, masks=(pos, neg))
        x = F.normalize(embeddings.float(), dim=1)
        s = x @ x.T
        if int(pos.sum()) <= 1 and int(neg.sum()) <= 1:
            return s.sum() * 0.0
        pos_loss = _log1p_sum_exp(-self.alpha * (s - self.base), pos) / self.alpha
        neg_loss = _log1p_sum_exp(self.beta * (s - self.base), neg) / self.beta
        return (pos_loss + neg_loss).mean()


def _log1p_sum_exp(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Row-wise ``log(1 + sum_{j in keep} exp(x_ij))``, stable (PML ``logsumexp(add_one)``)."""
    x = x.masked_fill(~keep, float("-inf"))
    zeros = torch.zeros(x.shape[0], 1, dtype=x.dtype, device=x.device)
    return torch.logsumexp(torch.cat([x, zeros], dim=1), dim=1)


def build_loss(cfg: TrainConfig) -> nn.Module:
    """The batch loss of ``cfg``: the study's settings, overridden by ``loss_options``
    (triplet: ``margin``; contrastive: ``pos_margin``, ``neg_margin``; multi-similarity:
    ``alpha``, ``beta``, ``base``, ``epsilon`` of its miner)."""
    opts = dict(cfg.loss_options)
    try:
        if cfg.loss == "triplet":
            return TripletMarginLoss(opts.pop("margin", cfg.margin), **opts)
        if cfg.loss == "contrastive":
            return ContrastiveLoss(**{"pos_margin": 0.0, "neg_margin": 1.0, **opts})
        eps = opts.pop("epsilon", 0.1)
        return MultiSimilarityLoss(
            **{"alpha": 1.0, "beta": 50.0, "base": 0.0, **opts}, miner=MultiSimilarityMiner(eps)
        )
    except TypeError as exc:
        raise InputError(
            f"loss_options {cfg.loss_options} do not fit the {cfg.loss} loss: {exc}"
        ) from None
