"""The training loop of the reference models, validated through ``vprmetrics``.

:func:`train` runs the procedure of Berton et al., "Deep Visual Geo-localization
Benchmark", CVPR 2022, for descriptor models, with one sampler per strategy:

* ``sampler="mined"`` (the benchmark): per epoch ``queries_per_epoch`` training queries in
  chunks of ``cache_refresh``, each chunk mined for (query, best positive within 10 m,
  10 negatives beyond 25 m) with the model in eval mode, then trained in batches of
  ``batch_size`` tuples (:mod:`reference_models.training.triplets`);
* ``sampler="places"`` (the ``cpu-quick`` preset): batches of ``places_per_batch`` places x
  ``images_per_place`` images with pairs from the positions and a loss that mines inside
  the batch (:mod:`reference_models.training.places`);
* the ``siamese-resnet50`` model trains on geographic pairs (positives facing the query's
  way with ``max_heading_deg``) with binary cross-entropy, its head started as a distance
  (:mod:`reference_models.training.pairs`);
* cross-view models (``task="cross_view"``: CVM-Net, the PSSR study's twins) train on
  ground/aerial pairs with in-batch triplets and k-means super-batches
  (:mod:`reference_models.training.crossview`).

Optimiser Adam (lr 1e-5), AdamW (wd 0.01) or SGD (momentum 0.9, wd 5e-4), constant or
cosine learning rate (:mod:`reference_models.training.optim`). After each epoch Recall@1/5/10
on the validation split (:func:`reference_models.inference.evaluate_split`, the
``vprmetrics`` engine under the protocol's ground truth); ``best.pt`` keeps the best R@5 and
training stops after ``patience`` (3) epochs without a gain. ``last.pt`` after every epoch
holds model, optimiser, scaler, sampler and RNG states, so ``resume=True`` continues exactly
where the run stopped; ``config.json``, ``log.json`` and ``curve.png`` record the run
(:mod:`reference_models.training.checkpoints`). On CUDA the forward pass runs under float16
autocast with a gradient scaler; on CPU in float32.

From scratch (no ``weights``) every backbone layer trains (``freeze="auto"``); with
``weights`` the benchmark's frozen layers stay frozen
(:mod:`reference_models.training.model_setup`). The options and their presets are in
:mod:`reference_models.training.config`.
"""

from __future__ import annotations

import dataclasses
import io
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reference_models.images import ImageSpec, ImageStore
from reference_models.inference import evaluate_split, resolve_amp, resolve_device
from reference_models.models.registry import get_spec
from reference_models.training.augment import build_augmentation
from reference_models.training.checkpoints import (
    load_checkpoint,
    restore_rng_state,
    rng_state,
    save_checkpoint,
    write_json,
)
from reference_models.training.config import TrainConfig
from reference_models.training.crossview import train_crossview
from reference_models.training.model_setup import build_run_model, init_netvlad, run_meta
from reference_models.training.pairs import PairMiner, init_pair_head, pair_epoch
from reference_models.training.places import PlaceSampler, place_epoch
from reference_models.training.splits import open_split
from reference_models.training.triplets import MiningConfig, TripletMiner, triplet_epoch
from reference_models.training.two_stage import build_run_optimizer, train_two_stage
from vprmetrics.errors import InputError
from vprmetrics.files import write_atomic

__all__ = ["RunResult", "train"]


@dataclass
class RunResult:
    """What :func:`train` returns."""

    run_dir: Path
    best_epoch: int
    best_recalls: dict[int, float]
    epochs_run: int
    stopped_early: bool
    train_seconds: float
    history: list[dict[str, Any]]

    @property
    def best_checkpoint(self) -> Path:
        return self.run_dir / "best.pt"


def train(
    config: TrainConfig, *, on_epoch: Callable[[dict[str, Any]], None] | None = None
) -> RunResult:
    """Train ``config.model`` and write the run folder ``config.out``; see the module doc.

    With ``config.resume`` and a ``last.pt`` in the run folder, the saved configuration is
    used (only ``epochs``, ``patience``, ``device``, ``threads`` and ``progress`` come from
    ``config``) and training continues after the last finished epoch. ``on_epoch`` receives
    each epoch's record (the entry appended to ``history``). ``schedule="crn-two-stage"``
    runs NetVLAD then CRN (:mod:`reference_models.training.two_stage`) and returns stage 2.
    """
    if get_spec(config.model).task == "cross_view":
        return RunResult(**train_crossview(config))
    if config.schedule == "crn-two-stage":
        return train_two_stage(config, train, on_epoch=on_epoch)
    run_dir = Path(config.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    last_path = run_dir / "last.pt"
    checkpoint = None
    cfg = config
    if config.resume and last_path.is_file():
        checkpoint = load_checkpoint(last_path)
        saved = TrainConfig.from_json(json.loads(checkpoint["config"]))
        cfg = dataclasses.replace(
            saved,
            epochs=config.epochs,
            patience=config.patience,
            device=config.device,
            threads=config.threads,
            progress=config.progress,
            resume=True,
        )
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    amp = resolve_amp(cfg.amp, device)
    task = get_spec(cfg.model).task
    if task not in ("descriptor", "pair"):
        raise InputError(f"model {cfg.model!r} ({task}) is not trainable here yet")

    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)

    train_ds = open_split(cfg.protocol, cfg.dataset_root, cfg.train_split)
    val_ds = open_split(cfg.protocol, cfg.dataset_root, cfg.val_split)
    stores = _image_stores(cfg, train_ds, val_ds)
    augment = build_augmentation(cfg.augment, stores["train_db"].size())

    model, loaded, freeze_rule = build_run_model(cfg)
    model.to(device)
    sampler = _build_sampler(task, cfg, train_ds)
    alpha = None
    if checkpoint is None and loaded != "model":
        alpha = init_netvlad(model, stores["train_db"], cfg, device, rng)
        if isinstance(sampler, PairMiner):
            init_pair_head(model, sampler, stores, device, rng)
    optimizer = build_run_optimizer(model, cfg)
    scaler = torch.amp.GradScaler(device.type, enabled=amp)

    history: list[dict[str, Any]] = []
    start_epoch, best_r5, best_epoch, bad_epochs = 0, -1.0, 0, 0
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        if checkpoint.get("scaler"):
            scaler.load_state_dict(checkpoint["scaler"])
        start_epoch = int(checkpoint["epoch"])
        best_r5, best_epoch = float(checkpoint["best_r5"]), int(checkpoint["best_epoch"])
        bad_epochs = int(checkpoint["bad_epochs"])
        history = json.loads(checkpoint["history"])
        restore_rng_state(checkpoint["rng"], sampler)
    else:
        write_json(run_dir / "config.json", cfg.to_json())

    meta = run_meta(
        cfg,
        model,
        device,
        amp,
        loaded,
        freeze_rule,
        alpha,
        train={"database": train_ds.n_database, "queries": train_ds.n_queries},
        val={"database": val_ds.n_database, "queries": val_ds.n_queries},
        image_size=list(stores["train_db"].size()),
    )
    t_start = time.perf_counter()
    stopped = checkpoint is not None and bad_epochs >= cfg.patience
    epoch = start_epoch
    while epoch < cfg.epochs and not stopped:
        t0 = time.perf_counter()
        step_args = (stores, cfg, optimizer, scaler, device, amp, augment)
        if isinstance(sampler, PairMiner):
            losses = pair_epoch(model, sampler, *step_args)
        elif isinstance(sampler, PlaceSampler):
            losses = place_epoch(model, sampler, *step_args, epoch)
        else:
            losses = triplet_epoch(model, sampler, *step_args, epoch)
        recalls = evaluate_split(
            model,
            val_ds,
            stores["val_db"],
            stores["val_q"],
            recall_at=cfg.recall_at,
            batch_size=cfg.infer_batch_size,
            device=device,
            amp=amp,
            progress=cfg.progress,
        )
        epoch += 1
        record = {
            "epoch": epoch,
            "loss": float(np.mean(losses)) if losses else float("nan"),
            "steps": len(losses),
            "recall": {str(n): v for n, v in recalls.items()},
            "seconds": time.perf_counter() - t0,
        }
        config_json = json.dumps(cfg.to_json())
        if recalls[5] > best_r5:
            best_r5, best_epoch, bad_epochs = recalls[5], epoch, 0
            best_state = {"model": model.state_dict(), "epoch": epoch, "config": config_json}
            save_checkpoint(run_dir / "best.pt", best_state)
        else:
            bad_epochs += 1
        record["best_epoch"] = best_epoch
        history.append(record)
        stopped = bad_epochs >= cfg.patience
        last_state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if amp else {},
            "epoch": epoch,
            "best_r5": best_r5,
            "best_epoch": best_epoch,
            "bad_epochs": bad_epochs,
            "history": json.dumps(history),
            "config": config_json,
            "rng": rng_state(sampler),
        }
        save_checkpoint(last_path, last_state)
        log = {
            "meta": meta,
            "config": cfg.to_json(),
            "history": history,
            "best_epoch": best_epoch,
            "stopped_early": stopped,
        }
        write_json(run_dir / "log.json", log)
        _plot(history, run_dir / "curve.png", f"{cfg.model} on {cfg.protocol}")
        if cfg.progress:
            r = " ".join(f"R@{n} {v:.3f}" for n, v in recalls.items())
            print(
                f"epoch {epoch}: loss {record['loss']:.4f}  val {r}  ({record['seconds']:.0f} s)",
                file=sys.stderr,
            )
        if on_epoch is not None:
            on_epoch(record)
    best = next((h for h in history if h["epoch"] == best_epoch), None)
    return RunResult(
        run_dir=run_dir,
        best_epoch=best_epoch,
        best_recalls={int(n): v for n, v in best["recall"].items()} if best else {},
        epochs_run=len(history),
        stopped_early=stopped,
        train_seconds=time.perf_counter() - t_start,
        history=history,
    )


def _image_stores(cfg: TrainConfig, train_ds: Any, val_ds: Any) -> dict[str, ImageStore]:
    """The four image sides of a run, preloaded when ``cache_images``."""
    ispec = ImageSpec(cfg.image_size, cfg.resize_percent, cfg.crop_top, cfg.crop_bottom)
    stores = {
        name: ImageStore(ds.root, ids, ispec, cache=cfg.cache_images)
        for name, ds, ids in (
            ("train_db", train_ds, train_ds.database_ids),
            ("train_q", train_ds, train_ds.query_ids),
            ("val_db", val_ds, val_ds.database_ids),
            ("val_q", val_ds, val_ds.query_ids),
        )
    }
    if cfg.cache_images:
        threads = cfg.threads or torch.get_num_threads()
        for store in stores.values():
            store.preload(threads=threads)
    return stores


def _build_sampler(
    task: str, cfg: TrainConfig, train_ds: Any
) -> PairMiner | PlaceSampler | TripletMiner:
    """The training sampler of the model's task and ``cfg.sampler``."""
    if task == "pair":
        return PairMiner(
            train_ds.database_coords,
            train_ds.query_coords,
            negative_rank=cfg.negative_rank,
            seed=cfg.seed,
            query_headings=train_ds.query_headings,
            database_headings=train_ds.database_headings,
            max_heading_deg=cfg.max_heading_deg,
        )
    if cfg.sampler == "places":
        return PlaceSampler(
            train_ds.database_coords,
            train_ds.query_coords,
            train_ds.database_headings,
            train_ds.query_headings,
            places=cfg.places_per_batch,
            per_place=cfg.images_per_place,
            positive_radius_m=cfg.positive_radius_m,
            negative_radius_m=cfg.negative_radius_m,
            max_heading_deg=cfg.max_heading_deg,
            seed=cfg.seed,
        )
    mining = MiningConfig(
        cfg.mining,
        cfg.positive_radius_m,
        cfg.negative_radius_m,
        cfg.negatives_per_query,
        cfg.negative_sample_size,
        cfg.cache_refresh,
        cfg.max_heading_deg,
    )
    return TripletMiner(
        train_ds.database_coords,
        train_ds.query_coords,
        mining,
        seed=cfg.seed,
        database_headings=train_ds.database_headings,
        query_headings=train_ds.query_headings,
    )


def _plot(history: list[dict[str, Any]], path: Path, title: str) -> None:
    """Loss and validation recalls per epoch as a PNG (skipped without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    from matplotlib.ticker import MaxNLocator

    epochs = [h["epoch"] for h in history]
    fig, ax1 = plt.subplots(figsize=(6, 3.8))
    ax1.plot(epochs, [h["loss"] for h in history], "k.-", label="train loss")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax2 = ax1.twinx()
    for n in history[0]["recall"]:
        ax2.plot(epochs, [h["recall"][n] for h in history], ".-", label=f"val R@{n}")
    ax2.set_ylabel("validation recall")
    ax2.set_ylim(0, 1)
    lines = ax1.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    # below the axes, so it never hides the loss line
    fig.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="lower center",
               ncol=len(lines[0]) + len(lines2[0]), fontsize=8, frameon=False)  # fmt: skip
    ax1.set_title(f"{title} (best epoch: highest validation R@5)", fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    write_atomic(path, buffer.getvalue())
