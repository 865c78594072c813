"""In-batch place sampling: batches of P places x K images whose pairs come from positions.

The cheap alternative to mined triplets for short CPU runs (the ``cpu-quick`` preset): no
feature extraction and no mining refresh. :class:`PlaceSampler` fills a batch with
``places_per_batch`` places x ``images_per_place`` images (a training query, a database
image of its place and more images of it); :func:`place_pair_masks` labels every pair of
the batch from the positions and, with ``max_heading_deg``, the headings (positives within
10 m and the same viewing direction, negatives beyond 25 m, the rest ignored); the loss
mines inside the batch (multi-similarity, contrastive or all-triplets, with
``loss_options`` overriding the loss study's settings). :func:`place_epoch` trains
``ceil(queries_per_epoch / places_per_batch)`` such batches.

>>> xy = np.array([[0.0, 0.0], [5.0, 0.0], [40.0, 0.0]])
>>> pos, neg = place_pair_masks(xy, None)
>>> pos.astype(int).tolist(), neg.astype(int).tolist()
([[0, 1, 0], [1, 0, 0], [0, 0, 0]], [[0, 0, 1], [0, 0, 1], [1, 1, 0]])
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch
from torch import nn

from reference_models.images import ImageStore, normalize
from reference_models.inference import autocast, progress_bar
from reference_models.training.config import TrainConfig
from reference_models.training.losses import build_loss
from reference_models.training.optim import optimizer_step, scheduled_lr, set_lr, steps_per_epoch
from vprmetrics.errors import InputError
from vprmetrics.geo.geodesy import heading_difference_deg
from vprmetrics.geo.ground_truth import positives_within_radius

__all__ = ["PlaceSampler", "place_epoch", "place_pair_masks"]


def place_pair_masks(
    coords: np.ndarray,
    headings: np.ndarray | None,
    positive_radius_m: float = 10.0,
    negative_radius_m: float = 25.0,
    max_heading_deg: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(N, N) boolean (positive, negative) pair masks of a batch from its UTM positions.

    Positive: a different batch item within ``positive_radius_m`` (closed) and, when
    ``max_heading_deg`` and ``headings`` are given, a heading within ``max_heading_deg``;
    negative: farther than ``negative_radius_m``. Everything between is ignored (the same
    place seen the other way, or 10-25 m away, is neither pulled nor pushed).
    """
    xy = np.asarray(coords, np.float64)
    dist = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    pos = dist <= positive_radius_m
    if max_heading_deg is not None and headings is not None:
        h = np.asarray(headings, np.float64)
        pos &= heading_difference_deg(h[:, None], h[None, :]) <= max_heading_deg
    np.fill_diagonal(pos, False)
    return pos, dist > negative_radius_m


class PlaceSampler:
    """Batches of ``places`` places x ``per_place`` images for in-batch mining.

    Each place is anchored on a random training query that has a database image within
    ``positive_radius_m`` (and within ``max_heading_deg`` of its heading when headings are
    known): the batch holds the query, one such database image, and ``per_place - 2`` more
    images of the place drawn from its other database images and the other training queries
    that satisfy the same rule (with replacement when the place has too few). Anchors of one
    batch are distinct. Items are numbered ``0..n_database-1`` for the database and
    ``n_database + q`` for query ``q``; :func:`place_pair_masks` gives the pairs from the
    items' positions and headings, so pairs across places are labelled correctly too.

    Args:
        database_coords, query_coords: (n, 2) UTM metres of the training split.
        database_headings, query_headings: (n,) degrees, or None.
        places, per_place: batch layout (P x K images, K >= 2).
        positive_radius_m, negative_radius_m, max_heading_deg: the pair rule.
        seed: seed of the sampler's own ``numpy`` generator (checkpointed).
    """

    def __init__(
        self,
        database_coords: np.ndarray,
        query_coords: np.ndarray,
        database_headings: np.ndarray | None = None,
        query_headings: np.ndarray | None = None,
        *,
        places: int = 16,
        per_place: int = 4,
        positive_radius_m: float = 10.0,
        negative_radius_m: float = 25.0,
        max_heading_deg: float | None = None,
        seed: int = 0,
    ) -> None:
        if places < 1 or per_place < 2:
            raise InputError("a place batch needs places >= 1 and per_place >= 2")
        self.places, self.per_place = int(places), int(per_place)
        self.positive_radius_m = positive_radius_m
        self.negative_radius_m = negative_radius_m
        self.n_database = int(database_coords.shape[0])
        self.coords = np.concatenate([database_coords, query_coords]).astype(np.float64)
        use_headings = (
            max_heading_deg is not None
            and database_headings is not None
            and query_headings is not None
        )
        self.max_heading_deg = max_heading_deg if use_headings else None
        self.headings = (
            np.concatenate([database_headings, query_headings]).astype(np.float64)
            if use_headings
            else None
        )
        kw: dict = {}
        if use_headings and max_heading_deg is not None:
            kw = dict(
                query_headings=self.headings,
                database_headings=self.headings,
                max_heading_deg=float(max_heading_deg),
            )
        groups = positives_within_radius(self.coords, self.coords, positive_radius_m, **kw)
        self.database_positive: dict[int, np.ndarray] = {}
        self.place_items: dict[int, np.ndarray] = {}
        for q in range(query_coords.shape[0]):
            item = self.n_database + q
            members = groups.of(item)
            members = members[members != item]
            db = members[members < self.n_database]
            if db.size:
                self.database_positive[item] = db.astype(np.int64)
                self.place_items[item] = members.astype(np.int64)
        self.anchors = np.array(sorted(self.database_positive), dtype=np.int64)
        if self.anchors.size == 0:
            raise InputError(
                f"no training query has a database image within {positive_radius_m} m: "
                "check the training split"
            )
        self.rng = np.random.default_rng(seed)

    def state_dict(self) -> dict:
        """Checkpointable state (a JSON string, ``weights_only`` safe)."""
        return {"rng": json.dumps(self.rng.bit_generator.state)}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` output."""
        self.rng.bit_generator.state = json.loads(state["rng"])

    def sample(self) -> np.ndarray:
        """Item numbers of one batch, place by place (P * K items)."""
        n = min(self.places, self.anchors.size)
        anchors = self.rng.choice(self.anchors, n, replace=False)
        out = []
        for a in anchors:
            a = int(a)
            first = int(self.rng.choice(self.database_positive[a]))
            rest = self.place_items[a][self.place_items[a] != first]
            k = self.per_place - 2
            if k > 0:
                pool = rest if rest.size else np.array([first])
                extra = self.rng.choice(pool, k, replace=pool.size < k)
            else:
                extra = np.zeros(0, np.int64)
            out.extend([a, first, *[int(e) for e in extra]])
        return np.asarray(out, dtype=np.int64)

    def masks(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pair masks of a batch of items (see :func:`place_pair_masks`)."""
        items = np.asarray(items, dtype=np.int64)
        heads = None if self.headings is None else self.headings[items]
        return place_pair_masks(
            self.coords[items],
            heads,
            self.positive_radius_m,
            self.negative_radius_m,
            self.max_heading_deg,
        )


def place_epoch(
    model: nn.Module,
    sampler: PlaceSampler,
    stores: dict[str, ImageStore],
    cfg: TrainConfig,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    device: torch.device,
    amp: bool,
    augment: Any,
    epoch: int = 0,
) -> list[float]:
    """One epoch of in-batch training: ``ceil(queries_per_epoch / places_per_batch)``
    batches of P places x K images, pairs from positions (:class:`PlaceSampler`)."""
    losses: list[float] = []
    n_batches = steps_per_epoch(cfg)
    loss_fn = build_loss(cfg)
    n_db = sampler.n_database
    model.train()
    for b in progress_bar(range(n_batches), n_batches, "training", cfg.progress):
        set_lr(optimizer, scheduled_lr(cfg, epoch * n_batches + b))
        items = sampler.sample()
        raw = [
            stores["train_db"].get(int(i)) if i < n_db else stores["train_q"].get(int(i) - n_db)
            for i in items
        ]
        if augment is not None:
            raw = [augment(img) for img in raw]
        images = normalize(torch.stack(raw))
        pos, neg = sampler.masks(items)
        masks = (torch.from_numpy(pos).to(device), torch.from_numpy(neg).to(device))
        with autocast(device, amp):
            desc = model(images.to(device, non_blocking=True))
        loss = loss_fn(desc.float(), masks=masks)
        losses.append(optimizer_step(loss, optimizer, scaler))
    return losses
