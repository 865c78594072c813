r"""Cross-view training: ground panoramas against aerial tiles, pairs in batches.

A CVUSA-layout dataset lists its pairs in split files (``splits/train-19zl.csv``,
``splits/val-19zl.csv``); pair i is ground image i and aerial image i. One step takes a batch
of B pairs through both branches and scores all 2 B (B - 1) in-batch triplets with a loss
of :mod:`reference_models.training.crossview_losses` (Hu et al., CVM-Net, CVPR 2018).

Two stages, after Debnath et al.'s PSSR study:

1. ``epochs`` epochs on random batches with ``cfg.loss`` (the presets: CVM-Net's weighted
   soft-margin triplet; ``max-margin-triplet`` is the study's equation 1);
2. ``superbatch_epochs`` epochs on **super-batches** with the weighted soft-margin triplet
   (at ``superbatch_lr`` when set):
   before each epoch the model describes every training pair, the concatenated (ground,
   aerial) descriptors are clustered recursively with k-means
   (:class:`reference_models.training.kmeans_tree.KMeansTree`, ``superbatch_branching``
   children, leaves of at most B pairs), and batches are cut from the leaf order, so a
   batch holds pairs of one cluster: look-alike places, i.e. hard and semi-hard
   negatives (:func:`super_batches`, :func:`triplet_shares`).

Validation after every epoch scores the validation pairs through ``vprmetrics`` (ground
queries against the aerial database, one-to-one ground truth): Recall@1/5/10 and R@1%
(:func:`evaluate_crossview`); ``best.pt`` keeps the best R@1%. On CUDA the forward pass runs
under float16 autocast with a gradient scaler. The run folder has the files of
:mod:`reference_models.training.loop` (``config.json``, ``best.pt``, ``last.pt``,
``log.json``); ``resume`` is not supported for cross-view runs.

>>> emb = np.repeat(np.eye(4), 3, axis=0)[np.random.default_rng(0).permutation(12)]
>>> sorted(np.unique(emb[b].argmax(1)).tolist() for b in super_batches(emb, 3, branching=2))
[[0], [1], [2], [3]]
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from reference_models.images import ImageSpec, ImageStore
from reference_models.inference import autocast, describe_images, resolve_amp, resolve_device
from reference_models.models.aggregators import init_netvlad_from_features, sample_local_descriptors
from reference_models.models.crossview import BranchView, NetVLADViews
from reference_models.training.checkpoints import save_checkpoint, write_json
from reference_models.training.config import TrainConfig
from reference_models.training.crossview_losses import CROSSVIEW_LOSS_FUNCTIONS, cross_distances
from reference_models.training.kmeans_tree import KMeansTree
from reference_models.training.model_setup import build_run_model, run_meta
from reference_models.training.optim import build_optimizer, optimizer_step, set_lr
from vprmetrics.data.loaders import load_dataset
from vprmetrics.data.protocol import Side, load_protocol
from vprmetrics.errors import InputError
from vprmetrics.metrics.recall import recall_at_n, recall_at_percent
from vprmetrics.ranking.engine import rank

__all__ = [
    "crossview_epoch",
    "crossview_split",
    "evaluate_crossview",
    "random_batches",
    "set_dropout",
    "super_batches",
    "train_crossview",
    "triplet_shares",
]


def crossview_split(protocol_name: str, dataset_root: str | Path, split: str) -> Any:
    """The dataset of a CVUSA-layout protocol's ``split`` (``train``, ``val``, or a protocol
    name): the split file ``<split>-19zl.csv`` beside the protocol's own."""
    if split not in ("train", "val", "test"):
        return load_dataset(load_protocol(split), dataset_root)
    protocol = load_protocol(protocol_name)
    if protocol.layout != "cvusa":
        raise InputError(f"protocol {protocol_name!r} is not a cross-view (cvusa) protocol")
    if split == protocol.split:
        return load_dataset(protocol, dataset_root)
    split_file = str(protocol.loader["split_file"]).replace(f"{protocol.split}-", f"{split}-")
    sibling = dataclasses.replace(
        protocol,
        name=f"{protocol.name}[{split}]",
        split=split,
        loader={**protocol.loader, "split_file": split_file},
        database=_unknown_count(protocol.database),
        queries=_unknown_count(protocol.queries),
    )
    return load_dataset(sibling, dataset_root, strict_counts=False)


def _unknown_count(side: Side) -> Side:
    return dataclasses.replace(side, count=None, count_verified=False, scored_count=None)


def random_batches(n: int, batch_size: int, count: int, rng: np.random.Generator) -> list:
    """``count`` pairs (at most n) in random batches of ``batch_size`` (last partial dropped)."""
    order = rng.permutation(n)[: min(count, n)]
    return [order[s : s + batch_size] for s in range(0, len(order) - batch_size + 1, batch_size)]


def super_batches(
    embeddings: np.ndarray, batch_size: int, *, branching: int = 4, seed: int = 0
) -> list[np.ndarray]:
    """Batches of ``batch_size`` rows cut from the leaf order of a k-means tree.

    The tree splits recursively into ``branching`` clusters until a leaf holds at most
    ``batch_size`` rows; the rows are listed leaf by leaf, depth first, cut into consecutive
    batches (an incomplete last one is dropped) and the batches shuffled. A batch therefore
    holds one leaf, or neighbouring leaves of one parent cluster; well-separated clusters
    of ``batch_size`` rows that the tree splits apart become one batch each.
    """
    x = np.asarray(embeddings, dtype=np.float64)
    if x.shape[0] < batch_size:
        raise InputError(f"{x.shape[0]} pairs cannot fill a batch of {batch_size}")
    order = KMeansTree(x, k=branching, leaf_size=batch_size, seed=seed).leaf_order()
    batches = [order[s : s + batch_size] for s in range(0, len(order) - batch_size + 1, batch_size)]
    perm = np.random.default_rng(seed).permutation(len(batches))
    return [batches[i] for i in perm]


def triplet_shares(
    ground: torch.Tensor | np.ndarray, aerial: torch.Tensor | np.ndarray, margin: float = 0.2
) -> dict[str, float]:
    """Shares of the ground -> aerial in-batch triplets that are hard (d_neg < d_pos),
    semi-hard (d_pos <= d_neg < d_pos + margin) and easy."""
    d = cross_distances(torch.as_tensor(ground), torch.as_tensor(aerial))
    pos = d.diagonal()[:, None]
    off = ~torch.eye(d.shape[0], dtype=torch.bool)
    neg, pos = d[off], pos.expand_as(d)[off]
    hard = float((neg < pos).float().mean())
    semi = float(((neg >= pos) & (neg < pos + margin)).float().mean())
    return {"hard": hard, "semi_hard": semi, "easy": 1.0 - hard - semi}


def crossview_epoch(
    model: nn.Module,
    batches: list[np.ndarray],
    stores: dict[str, ImageStore],
    loss_name: str,
    loss_options: dict[str, float],
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    device: torch.device,
    amp: bool,
) -> list[float]:
    """One pass over ``batches`` of pair indices; returns the loss of every step."""
    fn, option, default = CROSSVIEW_LOSS_FUNCTIONS[loss_name]
    value = float(loss_options.get(option, default))
    model.train()
    losses = []
    for batch in batches:
        ground = stores["train_ground"].batch(batch.tolist()).to(device)
        aerial = stores["train_aerial"].batch(batch.tolist()).to(device)
        with autocast(device, amp):
            g, a = model(ground, aerial)
        losses.append(optimizer_step(fn(g.float(), a.float(), value), optimizer, scaler))
    return losses


def describe_pairs(
    model: nn.Module, ground: ImageStore, aerial: ImageStore, **kw: Any
) -> tuple[np.ndarray, np.ndarray]:
    """(ground descriptors, aerial descriptors) of every pair, eval mode, float32."""
    g = describe_images(BranchView(model, "ground"), ground, desc="ground", **kw)
    a = describe_images(BranchView(model, "aerial"), aerial, desc="aerial", **kw)
    return g, a


def evaluate_crossview(
    model: nn.Module,
    dataset: Any,
    ground: ImageStore,
    aerial: ImageStore,
    *,
    recall_at: tuple[int, ...] = (1, 5, 10),
    **kw: Any,
) -> dict[str, float]:
    """R@N and R@1% (protocol convention, expected ties) of ground queries against the
    aerial database, through :func:`vprmetrics.ranking.engine.rank`."""
    g, a = describe_pairs(model, ground, aerial, **kw)
    facts = rank(g, a, dataset.ground_truth(), metric="l2", k=1)  # recall needs counts only
    out = {f"R@{n}": v for n, v in recall_at_n(facts, recall_at).items()}
    convention = dataset.protocol.recall_at_percent_convention
    out["R@1%"] = recall_at_percent(facts, [1], convention=convention)[1.0]
    return out


def set_dropout(model: nn.Module, p: float | None) -> None:
    """Set every dropout layer of ``model`` to drop ``p`` (None: leave the model's).

    From scratch, conv4/conv5 of a random VGG16 carry an image-dependent signal of about a
    quarter of their mean activation; CVM-Net's dropout 0.2 after each of their six ReLUs
    adds noise of the same order, and training collapses to one descriptor for every image
    (measured on SynthTown: loss at its collapse value ln 2 * B / (B - 1), validation at
    chance). The CPU preset therefore trains with ``p = 0``; pretrained runs keep 0.2.
    """
    if p is None:
        return
    for layer in model.modules():
        if isinstance(layer, nn.Dropout):
            layer.p = float(p)


def _stores(cfg: TrainConfig, train_ds: Any, val_ds: Any) -> dict[str, ImageStore]:
    ground = ImageSpec(cfg.image_size, cfg.resize_percent, cfg.crop_top, cfg.crop_bottom)
    aerial = ImageSpec(cfg.aerial_size)
    stores = {
        "train_ground": ImageStore(train_ds.root, train_ds.query_ids, ground, cfg.cache_images),
        "train_aerial": ImageStore(train_ds.root, train_ds.database_ids, aerial, cfg.cache_images),
        "val_ground": ImageStore(val_ds.root, val_ds.query_ids, ground, cfg.cache_images),
        "val_aerial": ImageStore(val_ds.root, val_ds.database_ids, aerial, cfg.cache_images),
    }
    if cfg.cache_images:
        for store in stores.values():
            store.preload(threads=cfg.threads or torch.get_num_threads())
    return stores


class _LocalFeatures(nn.Module):
    def __init__(self, model: nn.Module, view: str) -> None:
        super().__init__()
        self.model, self.view = model, view

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return cast(NetVLADViews, self.model).local_features(images, self.view)


@torch.no_grad()
def init_crossview_netvlad(
    model: nn.Module, stores: dict[str, ImageStore], cfg: TrainConfig, device: torch.device
) -> list[float]:
    """k-means initialisation of every NetVLAD of a CVM-Net from local descriptors of
    ``netvlad_init_images`` random training pairs (per view; one shared layer gets both
    views' descriptors). Returns the alphas; [] for models without NetVLAD."""
    if not hasattr(model, "local_features"):
        return []
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    n = min(cfg.netvlad_init_images, len(stores["train_ground"]))
    picks = np.sort(rng.choice(len(stores["train_ground"]), n, replace=False))
    local: dict[int, list[torch.Tensor]] = {}
    layers = {}
    for view in ("ground", "aerial"):
        layer = cast(NetVLADViews, model).netvlad(view)
        store = stores[f"train_{view}"]
        for s in range(0, n, cfg.infer_batch_size):
            images = store.batch(picks[s : s + cfg.infer_batch_size]).to(device)
            h, w = images.shape[-2:]
            per = min(cfg.netvlad_init_per_image, (h // 16) * (w // 16))
            feats = sample_local_descriptors(
                _LocalFeatures(model, view), images, per_image=per, generator=gen
            )
            local.setdefault(id(layer), []).append(feats)
        layers[id(layer)] = layer
    return [
        init_netvlad_from_features(layers[key], torch.cat(parts), seed=cfg.seed)
        for key, parts in local.items()
    ]


def train_crossview(config: TrainConfig) -> dict[str, Any]:
    """Train a ``task="cross_view"`` model (module docstring); returns the fields of a
    :class:`reference_models.training.loop.RunResult`."""
    cfg = config
    if cfg.resume:
        raise InputError("resume is not supported for cross-view runs yet: start a new --out")
    if cfg.loss not in CROSSVIEW_LOSS_FUNCTIONS:
        raise InputError(
            f"loss {cfg.loss!r} does not train a cross-view model: use one of "
            f"{list(CROSSVIEW_LOSS_FUNCTIONS)}"
        )
    run_dir = Path(cfg.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    amp = resolve_amp(cfg.amp, device)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    train_ds = crossview_split(cfg.protocol, cfg.dataset_root, cfg.train_split)
    val_ds = crossview_split(cfg.protocol, cfg.dataset_root, cfg.val_split)
    stores = _stores(cfg, train_ds, val_ds)
    model, loaded, rule = build_run_model(cfg)
    trunks = getattr(model, "trunks", None)
    if rule == "none" and isinstance(trunks, nn.Module):
        trunks.requires_grad_(True)
    set_dropout(model, cfg.dropout)
    model.to(device)
    alphas = init_crossview_netvlad(model, stores, cfg, device) if loaded != "model" else []
    optimizer = build_optimizer(
        model.parameters(), cfg.optimizer, cfg.lr, cfg.weight_decay, cfg.momentum
    )
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    write_json(run_dir / "config.json", cfg.to_json())
    infer = dict(batch_size=cfg.infer_batch_size, device=device, amp=amp, progress=cfg.progress)
    meta = run_meta(
        cfg,
        model,
        device,
        amp,
        loaded,
        rule,
        alphas,
        train_pairs=train_ds.n_queries,
        val_pairs=val_ds.n_queries,
    )
    history: list[dict[str, Any]] = []
    best, best_epoch, bad = -1.0, 0, 0
    t_start = time.perf_counter()
    total = cfg.epochs + cfg.superbatch_epochs
    for epoch in range(1, total + 1):
        t0 = time.perf_counter()
        stage2 = epoch > cfg.epochs
        record: dict[str, Any] = {"epoch": epoch, "stage": 2 if stage2 else 1}
        if stage2:
            g, a = describe_pairs(model, stores["train_ground"], stores["train_aerial"], **infer)
            emb = np.concatenate([g, a], axis=1)
            batches = super_batches(
                emb, cfg.batch_size, branching=cfg.superbatch_branching, seed=cfg.seed + epoch
            )
            batches = batches[: max(1, cfg.queries_per_epoch // cfg.batch_size)]
            record["triplets_super"] = _mean_shares(g, a, batches)
            record["triplets_random"] = _mean_shares(
                g, a, random_batches(len(g), cfg.batch_size, len(g), rng)
            )
            loss_name = "soft-margin-triplet"
            if cfg.superbatch_lr is not None:
                set_lr(optimizer, cfg.superbatch_lr)
        else:
            batches = random_batches(train_ds.n_queries, cfg.batch_size, cfg.queries_per_epoch, rng)
            loss_name = cfg.loss
        losses = crossview_epoch(
            model, batches, stores, loss_name, cfg.loss_options, optimizer, scaler, device, amp
        )
        recalls = evaluate_crossview(
            model,
            val_ds,
            stores["val_ground"],
            stores["val_aerial"],
            recall_at=cfg.recall_at,
            **infer,
        )
        record.update(
            loss=float(np.mean(losses)),
            loss_name=loss_name,
            steps=len(losses),
            recall=recalls,
            seconds=time.perf_counter() - t0,
        )
        state = {"model": model.state_dict(), "epoch": epoch, "config": json.dumps(cfg.to_json())}
        if recalls["R@1%"] > best:
            best, best_epoch, bad = recalls["R@1%"], epoch, 0
            save_checkpoint(run_dir / "best.pt", state)
        else:
            bad += 1
        record["best_epoch"] = best_epoch
        history.append(record)
        save_checkpoint(run_dir / "last.pt", state)
        write_json(
            run_dir / "log.json",
            {"meta": meta, "config": cfg.to_json(), "history": history, "best_epoch": best_epoch},
        )
        if cfg.progress:
            r = " ".join(f"{k} {v:.3f}" for k, v in recalls.items())
            print(
                f"epoch {epoch} ({loss_name}): loss {record['loss']:.4f}  val {r}  "
                f"({record['seconds']:.0f} s)",
                file=sys.stderr,
            )
        if bad >= cfg.patience:
            break
    best_record = next(h for h in history if h["epoch"] == best_epoch)
    return dict(
        run_dir=run_dir,
        best_epoch=best_epoch,
        best_recalls=best_record["recall"],
        epochs_run=len(history),
        stopped_early=len(history) < total,
        train_seconds=time.perf_counter() - t_start,
        history=history,
    )


def _mean_shares(g: np.ndarray, a: np.ndarray, batches: list[np.ndarray]) -> dict[str, float]:
    shares = [triplet_shares(g[b], a[b]) for b in batches]
    return {k: float(np.mean([s[k] for s in shares])) for k in shares[0]} if shares else {}
