r"""Pair training of the Siamese place recogniser (seed: "Siamese Network for Place Recognition").

Pairs, as in that paper: for a training query the *nearest geographic neighbour* in the
database is the positive (label 1) and its ``negative_rank``-th nearest neighbour (the
100th) the negative (label 0). Both pairs of a query go into the same batch; the loss is
binary cross-entropy on the logits of :class:`reference_models.models.siamese.SiameseNet`,

.. math::
    L = -\frac{1}{2B}\sum_i \big[y_i \log \sigma(z_i)
        + (1 - y_i)\log(1 - \sigma(z_i))\big].

Retrieval (validation and export) uses one branch as the descriptor extractor with
Euclidean distance. U20 B5 cropping and the 128x384 size are the
:class:`reference_models.images.ImageSpec` options ``crop_top=20, crop_bottom=5,
image_size=(128, 384)``.

>>> db = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0], [30.0, 0.0]])
>>> geographic_pairs(np.array([[11.0, 0.0]]), db, negative_rank=3)
(array([1]), array([0]))
"""

from __future__ import annotations

import json
from typing import Any

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

__all__ = ["PairMiner", "geographic_pairs", "pair_epoch"]


def geographic_pairs(
    query_coords: np.ndarray, database_coords: np.ndarray, negative_rank: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """(positive, negative) database indices of every query.

    Positive: the geographically nearest database item; negative: the
    ``negative_rank``-th nearest (1-based; the last one when the database is smaller).
    Distances are float64 Euclidean (UTM metres); ties go to the lower index.
    """
    n = database_coords.shape[0]
    if n < 2:
        raise InputError("pair training needs at least 2 database images")
    k = min(negative_rank, n)
    tree = cKDTree(np.asarray(database_coords, dtype=np.float64))
    _, idx = tree.query(np.asarray(query_coords, dtype=np.float64), k=[1, k])
    return idx[:, 0].astype(np.int64), idx[:, 1].astype(np.int64)


class PairMiner:
    """Fixed geographic pairs and a checkpointable query sampler."""

    def __init__(
        self,
        database_coords: np.ndarray,
        query_coords: np.ndarray,
        negative_rank: int = 100,
        seed: int = 0,
    ) -> None:
        self.positive, self.negative = geographic_pairs(
            query_coords, database_coords, negative_rank
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

    A batch holds ``cfg.batch_size`` queries, i.e. ``2 * batch_size`` pairs.
    """
    model.train()
    queries = miner.sample_queries(cfg.queries_per_epoch)
    order = queries[torch.randperm(len(queries)).numpy()]
    losses = []
    for b in range(len(order) // cfg.batch_size):
        q, db, labels = miner.pairs(order[b * cfg.batch_size : (b + 1) * cfg.batch_size])
        left = stores["train_q"].batch(q.tolist(), augment).to(device)
        right = stores["train_db"].batch(db.tolist(), augment).to(device)
        target = torch.from_numpy(labels).to(device)
        with autocast(device, amp):
            logits = model(left, right)
        loss = F.binary_cross_entropy_with_logits(logits.float(), target)
        losses.append(optimizer_step(loss, optimizer, scaler))
    return losses
