r"""Pair training of the Siamese place recogniser (seed: "Siamese Network for Place Recognition").

Pairs, as in that paper: for a training query the *nearest geographic neighbour* in the
database is the positive (label 1) and its ``negative_rank``-th nearest neighbour (the
100th) the negative (label 0). The paper's images are panoramas, so its nearest neighbour
shows the same scene; for perspective images (SynthTown, with two opposite headings at every
database position) ``max_heading_deg`` makes the positive the nearest database image
*facing the query's way* (heading within that many degrees, when the dataset knows its
headings). Both pairs of a query go into the same batch; the loss is binary cross-entropy
on the logits of :class:`reference_models.models.siamese.SiameseNet`,

.. math::
    L = -\frac{1}{2B}\sum_i \big[y_i \log \sigma(z_i)
        + (1 - y_i)\log(1 - \sigma(z_i))\big].

Before the first step, :func:`init_pair_head` starts the head as a distance on a first batch
of pairs (:meth:`SiameseNet.init_distance_head`); after each epoch,
:func:`precise_batchnorm` recomputes the BatchNorm statistics. Retrieval (validation and
export) uses one branch as the descriptor extractor with Euclidean distance. U20 B5
cropping and the 128x384 size are the :class:`reference_models.images.ImageSpec` options
``crop_top=20, crop_bottom=5, image_size=(128, 384)``.

>>> db = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0], [30.0, 0.0]])
>>> geographic_pairs(np.array([[11.0, 0.0]]), db, negative_rank=3)
(array([1]), array([0]))
>>> facing = dict(query_headings=np.array([0.0]), database_headings=np.array([0, 180, 0, 0.0]))
>>> geographic_pairs(np.array([[11.0, 0.0]]), db, 3, max_heading_deg=45, **facing)[0]
array([2])
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial import cKDTree
from torch import nn

from reference_models.images import ImageStore
from reference_models.inference import autocast
from reference_models.training.config import TrainConfig
from reference_models.training.optim import optimizer_step
from vprmetrics.errors import InputError
from vprmetrics.geo.geodesy import heading_difference_deg

if TYPE_CHECKING:
    from reference_models.models.siamese import SiameseNet

__all__ = ["PairMiner", "geographic_pairs", "init_pair_head", "pair_epoch", "precise_batchnorm"]

#: Nearest neighbours searched first for a positive facing the query's way.
_FACING_CANDIDATES = 64
#: Training batches that :func:`precise_batchnorm` averages after each epoch.
_PRECISE_BN_BATCHES = 8


def geographic_pairs(
    query_coords: np.ndarray,
    database_coords: np.ndarray,
    negative_rank: int = 100,
    *,
    query_headings: np.ndarray | None = None,
    database_headings: np.ndarray | None = None,
    max_heading_deg: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(positive, negative) database indices of every query.

    Positive: the geographically nearest database item, or with ``max_heading_deg`` and
    both headings given, the nearest whose heading is within ``max_heading_deg`` of the
    query's (the nearest of all when none is); negative: the ``negative_rank``-th nearest
    (1-based; the last one when the database is smaller), whatever its heading.
    Distances are float64 Euclidean (UTM metres).
    """
    n = database_coords.shape[0]
    if n < 2:
        raise InputError("pair training needs at least 2 database images")
    db = np.asarray(database_coords, dtype=np.float64)
    queries = np.asarray(query_coords, dtype=np.float64)
    k = min(negative_rank, n)
    _, idx = cKDTree(db).query(queries, k=[1, k])
    positive, negative = idx[:, 0].astype(np.int64), idx[:, 1].astype(np.int64)
    if max_heading_deg is not None and query_headings is not None and database_headings is not None:
        positive = _nearest_facing(
            queries, db, np.asarray(query_headings), np.asarray(database_headings), max_heading_deg
        )
    return positive, negative


def _nearest_facing(
    queries: np.ndarray,
    db: np.ndarray,
    q_heading: np.ndarray,
    db_heading: np.ndarray,
    max_deg: float,
) -> np.ndarray:
    """Per query, the nearest database index with a heading within ``max_deg`` (searched
    among the nearest :data:`_FACING_CANDIDATES` first, then over all); else the nearest."""
    k = min(_FACING_CANDIDATES, db.shape[0])
    _, idx = cKDTree(db).query(queries, k=k)
    facing = heading_difference_deg(q_heading[:, None], db_heading[idx]) <= max_deg
    positive = idx[np.arange(len(idx)), facing.argmax(axis=1)].astype(np.int64)
    for i in np.nonzero(~facing.any(axis=1))[0]:
        match = np.nonzero(heading_difference_deg(q_heading[i], db_heading) <= max_deg)[0]
        candidates = match if match.size else np.arange(db.shape[0])
        positive[i] = candidates[np.argmin(np.linalg.norm(db[candidates] - queries[i], axis=1))]
    return positive


class PairMiner:
    """Fixed geographic pairs and a checkpointable query sampler."""

    def __init__(
        self,
        database_coords: np.ndarray,
        query_coords: np.ndarray,
        negative_rank: int = 100,
        seed: int = 0,
        *,
        query_headings: np.ndarray | None = None,
        database_headings: np.ndarray | None = None,
        max_heading_deg: float | None = None,
    ) -> None:
        self.positive, self.negative = geographic_pairs(
            query_coords,
            database_coords,
            negative_rank,
            query_headings=query_headings,
            database_headings=database_headings,
            max_heading_deg=max_heading_deg,
        )
        self.n_queries = int(query_coords.shape[0])
        self.rng = np.random.default_rng(seed)

    def state_dict(self) -> dict:
        """Checkpointable state (the generator state as a JSON string)."""
        return {"rng": json.dumps(self.rng.bit_generator.state)}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` output."""
        self.rng.bit_generator.state = json.loads(state["rng"])

    def sample_queries(self, n: int) -> np.ndarray:
        """``n`` distinct random queries (all of them when ``n`` is larger)."""
        return np.sort(self.rng.choice(self.n_queries, min(n, self.n_queries), replace=False))

    def pairs(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query, database, label) arrays: each query's positive pair then negative pair."""
        q = np.repeat(np.asarray(queries, dtype=np.int64), 2)
        db = np.stack([self.positive[queries], self.negative[queries]], axis=1).reshape(-1)
        labels = np.tile(np.array([1.0, 0.0], np.float32), len(queries))
        return q, db, labels


def init_pair_head(
    model: nn.Module,
    miner: PairMiner,
    stores: dict[str, ImageStore],
    device: torch.device,
    rng: np.random.Generator,
    n_queries: int = 16,
) -> None:
    """Start ``model``'s head as a distance (:meth:`SiameseNet.init_distance_head`),
    calibrated on the pairs of ``n_queries`` random training queries (train mode, no
    gradients)."""
    picks = np.sort(rng.choice(miner.n_queries, min(n_queries, miner.n_queries), replace=False))
    q, db, _ = miner.pairs(picks)
    net = cast("SiameseNet", model)
    with torch.no_grad():
        f1 = net.embed(stores["train_q"].batch(q.tolist()).to(device))
        f2 = net.embed(stores["train_db"].batch(db.tolist()).to(device))
        net.init_distance_head((f1 - f2).abs())


def pair_epoch(
    model: nn.Module,
    miner: PairMiner,
    stores: dict[str, ImageStore],
    cfg: TrainConfig,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    device: torch.device,
    amp: bool,
    augment: Any,
) -> list[float]:
    """One epoch of BCE pair training over ``cfg.queries_per_epoch`` random queries.

    A batch holds ``cfg.batch_size`` queries, i.e. ``2 * batch_size`` pairs; each query
    image goes through the branch once (``3 * batch_size`` images a step).
    """
    model.train()
    queries = miner.sample_queries(cfg.queries_per_epoch)
    order = queries[torch.randperm(len(queries)).numpy()]
    losses = []
    for b in range(len(order) // cfg.batch_size):
        batch = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
        _, db, labels = miner.pairs(batch)
        left = stores["train_q"].batch(batch.tolist(), augment).to(device)
        right = stores["train_db"].batch(db.tolist(), augment).to(device)
        target = torch.from_numpy(labels).to(device)
        with autocast(device, amp):
            logits = model(left, right)
        loss = F.binary_cross_entropy_with_logits(logits.float(), target)
        losses.append(optimizer_step(loss, optimizer, scaler))
    precise_batchnorm(model, miner, stores, cfg.batch_size, device)
    return losses


def precise_batchnorm(
    model: nn.Module,
    miner: PairMiner,
    stores: dict[str, ImageStore],
    batch_size: int,
    device: torch.device,
    batches: int = _PRECISE_BN_BATCHES,
) -> None:
    r"""Recompute every BatchNorm's running mean and variance with the current weights:
    the plain average over ``batches`` training batches (queries and their pairs, train
    mode, no gradients; "precise BN", Wu and Johnson 2021),

    .. math:: \mu = \frac1K \sum_{k=1}^{K} \mu_k, \qquad
              \sigma^2 = \frac1K \sum_{k=1}^{K} \sigma_k^2

    with :math:`\mu_k, \sigma_k^2` the per-channel mean and unbiased variance of batch
    :math:`k` (PyTorch's cumulative average, ``momentum=None``); the momenta are restored.

    The exponential running averages (momentum 0.1) of a short run lag behind weights that
    still move fast, and shift the eval-mode logits away from the train-mode ones that the
    0.5 threshold was fitted to.
    """
    model.train()
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average
    with torch.no_grad():
        for _ in range(batches):
            queries = miner.sample_queries(batch_size)
            _, db, _ = miner.pairs(queries)
            left = stores["train_q"].batch(queries.tolist()).to(device)
            model(left, stores["train_db"].batch(db.tolist()).to(device))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
