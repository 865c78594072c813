"""Triplet mining of the visual geo-localization benchmark, with a cache refreshed per chunk.

Berton et al., "Deep Visual Geo-localization Benchmark", CVPR 2022 (``shared/reference/
models.md``): every ``cache_refresh`` queries (1,000) the model, in eval mode and without
gradients, describes a random chunk of training queries and the database images they need;
then for each query

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

:class:`PlaceSampler` is the cheap alternative for short CPU runs: no feature extraction,
batches of P places x K images whose pairs come from the positions (and headings), for
losses that mine inside the batch (multi-similarity, contrastive, all-triplets).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from vprmetrics.errors import InputError
from vprmetrics.ground_truth import positives_within_radius
from vprmetrics.positives import Positives

__all__ = [
    "MINING_METHODS",
    "MiningConfig",
    "PlaceSampler",
    "Triplet",
    "TripletMiner",
    "best_positive",
    "full_candidates",
    "nearest_negatives",
    "partial_candidates",
    "place_pair_masks",
    "random_negatives",
]

MINING_METHODS: tuple[str, ...] = ("full", "partial", "random")

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
        if (config.max_heading_deg is not None and database_headings is not None
                and query_headings is not None):
            heading_rule = dict(query_headings=query_headings,
                                database_headings=database_headings,
                                max_heading_deg=float(config.max_heading_deg))
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
                    full_candidates(self.rng, self.n_database, soft, self.previous[q],
                                    cfg.negative_sample_size)
                )
            elif cfg.method == "partial":
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


# ------------------------------------------------------------------ in-batch place sampling


def _heading_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)) % 360.0
    return np.minimum(d, 360.0 - d)


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
        pos &= _heading_diff(h[:, None], h[None, :]) <= max_heading_deg
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
        use_headings = (max_heading_deg is not None and database_headings is not None
                        and query_headings is not None)
        self.max_heading_deg = max_heading_deg if use_headings else None
        self.headings = (np.concatenate([database_headings, query_headings]).astype(np.float64)
                         if use_headings else None)
        kw: dict = {}
        if use_headings:
            kw = dict(query_headings=self.headings, database_headings=self.headings,
                      max_heading_deg=float(max_heading_deg))
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

    @property
    def batch_images(self) -> int:
        return self.places * self.per_place

    def state_dict(self) -> dict:
        """Checkpointable state (a JSON string, ``weights_only`` safe)."""
        return {"rng": json.dumps(self.rng.bit_generator.state)}

    def load_state_dict(self, state: dict) -> None:
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
        return place_pair_masks(self.coords[items], heads, self.positive_radius_m,
                                self.negative_radius_m, self.max_heading_deg)
