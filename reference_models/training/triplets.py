"""Mined triplets of the visual geo-localization benchmark, with a cache refreshed per chunk.

Berton et al., "Deep Visual Geo-localization Benchmark", CVPR 2022: every
``cache_refresh`` queries (1,000) the model, in eval mode and without gradients, describes
a random chunk of training queries and the database images they need; then for each query

* the positive is the *best positive*: of the database images within ``positive_radius_m``
  (10 m, closed ball; optionally also within ``max_heading_deg`` of the query's heading,
  so that the same spot seen the other way is not a positive) the one nearest to the query
  in feature space (L2);
* the negatives are ``negatives_per_query`` (10) database images beyond
  ``negative_radius_m`` (25 m; everything within it is a "soft positive" and never a
  negative), chosen by the mining method:

  - ``full``: per query ``negative_sample_size`` (1,000) random database images minus the
    query's soft positives, plus its 10 hardest negatives of the previous refresh; keep the
    10 nearest in feature space;
  - ``partial``: one random sample of ``negative_sample_size`` database images shared by
    all queries of the refresh, minus each query's soft positives; keep the 10 nearest;
  - ``random``: 10 random database images that are not soft positives.

Queries without a database image within 10 m cannot form a triplet and are never drawn.
The selection rules are pure functions (:func:`best_positive`, :func:`nearest_negatives`,
:func:`full_candidates`, :func:`partial_candidates`, :func:`random_negatives`), so tests
check them one by one; :class:`TripletMiner` strings them together.

:func:`triplet_epoch` trains on the mined tuples: batches of ``batch_size`` tuples, all
``batch_size * (2 + K)`` images through the model at once, loss
:func:`~reference_models.training.losses.triplet_margin_loss` (margin 0.1), or a batch loss
of :func:`~reference_models.training.losses.build_loss` on the same images (labels: a query
takes the database index of its positive, a database image its own index).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from reference_models.images import ImageStore
from reference_models.inference import DescribeOptions, autocast, describe_images, progress_bar
from reference_models.training.config import MINING_METHODS, TrainConfig
from reference_models.training.losses import build_loss, triplet_margin_loss
from reference_models.training.optim import optimizer_step, scheduled_lr, set_lr, steps_per_epoch
from vprmetrics.errors import InputError
from vprmetrics.geo.ground_truth import positives_within_radius
from vprmetrics.geo.positives import Positives

__all__ = [
    "MiningConfig",
    "Triplet",
    "TripletMiner",
    "best_positive",
    "full_candidates",
    "nearest_negatives",
    "partial_candidates",
    "random_negatives",
    "triplet_epoch",
    "tuple_loss",
]

#: embed(indices) -> (len(indices), D) float32 descriptors
Embed = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class MiningConfig:
    """Mining settings; the defaults are the benchmark's."""

    method: str = "partial"
    positive_radius_m: float = 10.0
    negative_radius_m: float = 25.0
    negatives_per_query: int = 10
    negative_sample_size: int = 1000
    cache_refresh: int = 1000
    max_heading_deg: float | None = None  # positives also within this heading (if known)

    def __post_init__(self) -> None:
        if self.method not in MINING_METHODS:
            raise InputError(f"unknown mining {self.method!r}: choose one of {MINING_METHODS}")
        if self.negatives_per_query < 1 or self.cache_refresh < 1:
            raise InputError("negatives_per_query and cache_refresh must be positive")


@dataclass(frozen=True)
class Triplet:
    """One training tuple: query index, database index of its positive, negatives (K,)."""

    query: int
    positive: int
    negatives: np.ndarray


def _sq_dist(q: np.ndarray, x: np.ndarray) -> np.ndarray:
    diff = x.astype(np.float64) - q.astype(np.float64)[None, :]
    return np.einsum("ij,ij->i", diff, diff)


def best_positive(query_feature: np.ndarray, positives: np.ndarray, features: np.ndarray) -> int:
    """The positive nearest to the query in feature space (first one on ties).

    ``positives`` are database indices, ``features`` their descriptors in the same order.
    """
    return int(positives[int(np.argmin(_sq_dist(query_feature, features)))])


def nearest_negatives(
    query_feature: np.ndarray, candidates: np.ndarray, features: np.ndarray, k: int
) -> np.ndarray:
    """The ``k`` candidates nearest to the query in feature space, nearest first (stable)."""
    order = np.argsort(_sq_dist(query_feature, features), kind="stable")[:k]
    return candidates[order]


def _fill(rng: np.random.Generator, chosen: np.ndarray, pool: np.ndarray, k: int) -> np.ndarray:
    """Pad ``chosen`` to ``k`` items drawn with replacement from ``pool`` (tiny databases)."""
    if chosen.size >= k:
        return chosen
    return np.concatenate([chosen, rng.choice(pool, k - chosen.size, replace=True)])


def full_candidates(
    rng: np.random.Generator,
    n_database: int,
    soft_positives: np.ndarray,
    previous: np.ndarray,
    sample_size: int,
) -> np.ndarray:
    """``full`` mining: a fresh random sample minus the soft positives, plus ``previous``.

    Unique and sorted; ``previous`` (the last hardest negatives) are never soft positives.
    """
    sample = rng.choice(n_database, min(sample_size, n_database), replace=False)
    sample = np.setdiff1d(sample, soft_positives)
    return np.union1d(sample, previous[previous >= 0]).astype(np.int64)


def partial_candidates(shared_sample: np.ndarray, soft_positives: np.ndarray) -> np.ndarray:
    """``partial`` mining: the refresh's shared sample minus the query's soft positives."""
    return np.setdiff1d(shared_sample, soft_positives).astype(np.int64)


def random_negatives(
    rng: np.random.Generator, n_database: int, soft_positives: np.ndarray, k: int
) -> np.ndarray:
    """``random`` mining: ``k`` distinct random non-soft-positives (with replacement only
    when fewer than ``k`` exist)."""
    pool = np.setdiff1d(np.arange(n_database), soft_positives)
    if pool.size == 0:
        raise InputError("every database image is within the negative radius of a query")
    pick = rng.choice(pool, min(k, pool.size), replace=False)
    return _fill(rng, pick, pool, k).astype(np.int64)


class TripletMiner:
    """Draws query chunks and mines their triplets (see the module docstring).

    Args:
        database_coords, query_coords: (n, 2) float64 UTM metres of the training split.
        config: the mining settings.
        seed: seed of the miner's own ``numpy`` generator (its state is checkpointed).
    """

    def __init__(
        self,
        database_coords: np.ndarray,
        query_coords: np.ndarray,
        config: MiningConfig,
        seed: int = 0,
        database_headings: np.ndarray | None = None,
        query_headings: np.ndarray | None = None,
    ) -> None:
        self.config = config
        self.n_database = int(database_coords.shape[0])
        heading_rule: dict = {}
        if (
            config.max_heading_deg is not None
            and database_headings is not None
            and query_headings is not None
        ):
            heading_rule = dict(
                query_headings=query_headings,
                database_headings=database_headings,
                max_heading_deg=float(config.max_heading_deg),
            )
        self.hard: Positives = positives_within_radius(
            query_coords, database_coords, config.positive_radius_m, **heading_rule
        )
        self.soft: Positives = positives_within_radius(
            query_coords, database_coords, config.negative_radius_m
        )
        self.valid_queries = np.flatnonzero(self.hard.has_positive).astype(np.int64)
        if self.valid_queries.size == 0:
            raise InputError(
                f"no training query has a database image within {config.positive_radius_m} m: "
                "check the training split"
            )
        self.previous = np.full(
            (query_coords.shape[0], config.negatives_per_query), -1, dtype=np.int64
        )
        self.rng = np.random.default_rng(seed)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Checkpointable state: a JSON string and an int64 tensor (``weights_only`` safe)."""
        return {
            "rng": json.dumps(self.rng.bit_generator.state),
            "previous": torch.from_numpy(self.previous.copy()),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` output."""
        self.rng.bit_generator.state = json.loads(state["rng"])
        previous = state["previous"]
        if isinstance(previous, torch.Tensor):
            previous = previous.numpy()
        self.previous = np.asarray(previous, dtype=np.int64).copy()

    # ------------------------------------------------------------------ mining
    def sample_queries(self, n: int | None = None) -> np.ndarray:
        """A random chunk of ``n`` (default ``cache_refresh``) distinct valid queries."""
        n = min(n or self.config.cache_refresh, self.valid_queries.size)
        return np.sort(self.rng.choice(self.valid_queries, n, replace=False))

    def mine(
        self, queries: np.ndarray, embed_queries: Embed, embed_database: Embed
    ) -> list[Triplet]:
        """Triplets of ``queries``; descriptors come from the two callbacks (eval mode)."""
        cfg = self.config
        k = cfg.negatives_per_query
        shared = None
        if cfg.method == "partial":
            shared = np.sort(
                self.rng.choice(
                    self.n_database, min(cfg.negative_sample_size, self.n_database), replace=False
                )
            )
        candidates: list[np.ndarray] = []
        for q in queries:
            soft = self.soft.of(int(q))
            if cfg.method == "full":
                candidates.append(
                    full_candidates(
                        self.rng, self.n_database, soft, self.previous[q], cfg.negative_sample_size
                    )
                )
            elif shared is not None:  # method "partial"
                candidates.append(partial_candidates(shared, soft))
            else:
                candidates.append(random_negatives(self.rng, self.n_database, soft, k))
        needed = [self.hard.of(int(q)) for q in queries]
        if cfg.method != "random":
            needed += candidates
        needed_ids = np.unique(np.concatenate(needed)) if needed else np.zeros(0, np.int64)
        q_feats = embed_queries(np.asarray(queries, dtype=np.int64))
        db_feats = embed_database(needed_ids)
        row = {int(i): r for r, i in enumerate(needed_ids)}

        def feats(ids: np.ndarray) -> np.ndarray:
            return db_feats[[row[int(i)] for i in ids]]

        triplets = []
        for j, q in enumerate(queries):
            pos_ids = self.hard.of(int(q))
            pos = best_positive(q_feats[j], pos_ids, feats(pos_ids))
            cand = candidates[j]
            if cfg.method == "random":
                negs = cand
            elif cand.size == 0:  # tiny shared sample inside the 25 m ball: fall back
                negs = random_negatives(self.rng, self.n_database, self.soft.of(int(q)), k)
            else:
                negs = _fill(self.rng, nearest_negatives(q_feats[j], cand, feats(cand), k), cand, k)
            if cfg.method == "full":
                self.previous[q] = negs
            triplets.append(Triplet(int(q), pos, negs.astype(np.int64)))
        return triplets


def tuple_loss(
    desc: torch.Tensor, cfg: TrainConfig, batch: int, k: int, labels: torch.Tensor
) -> torch.Tensor:
    """Loss of the descriptors of ``batch`` tuples laid out [queries, positives, negatives]."""
    desc = desc.float()
    if cfg.loss == "triplet":
        q, p, n = desc[:batch], desc[batch : 2 * batch], desc[2 * batch :]
        return triplet_margin_loss(q, p, n.reshape(batch, k, -1), margin=cfg.margin)
    return build_loss(cfg)(desc, labels)


def triplet_epoch(
    model: nn.Module,
    miner: TripletMiner,
    stores: dict[str, ImageStore],
    cfg: TrainConfig,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    device: torch.device,
    amp: bool,
    augment: Any,
    epoch: int = 0,
) -> list[float]:
    """One epoch: mine a chunk, train on it in batches, repeat; per-step losses."""
    losses: list[float] = []
    k = cfg.negatives_per_query
    remaining = cfg.queries_per_epoch
    kw = DescribeOptions(batch_size=cfg.infer_batch_size, device=device, amp=amp)
    model.train()
    while remaining > 0:
        queries = miner.sample_queries(min(cfg.cache_refresh, remaining))
        remaining -= max(len(queries), 1)
        triplets = miner.mine(
            queries,
            lambda idx: describe_images(model, stores["train_q"], idx, **kw),
            lambda idx: describe_images(model, stores["train_db"], idx, **kw),
        )
        order = torch.randperm(len(triplets)).tolist()
        n_batches = len(order) // cfg.batch_size  # the last incomplete batch is dropped
        for b in progress_bar(range(n_batches), n_batches, "training", cfg.progress):
            if cfg.lr_schedule != "constant":
                set_lr(optimizer, scheduled_lr(cfg, epoch * steps_per_epoch(cfg) + len(losses)))
            chunk = [triplets[i] for i in order[b * cfg.batch_size : (b + 1) * cfg.batch_size]]
            q_idx = [t.query for t in chunk]
            p_idx = [t.positive for t in chunk]
            n_idx = np.concatenate([t.negatives for t in chunk]).tolist()
            images = torch.cat(
                [
                    stores["train_q"].batch(q_idx, augment),
                    stores["train_db"].batch(p_idx + n_idx, augment),
                ]
            ).to(device, non_blocking=True)
            labels = torch.tensor(p_idx + p_idx + n_idx, device=device)
            with autocast(device, amp):
                desc = model(images)
            loss = tuple_loss(desc, cfg, len(chunk), k, labels)
            losses.append(optimizer_step(loss, optimizer, scaler))
    return losses
