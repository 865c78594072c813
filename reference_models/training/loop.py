"""Training of the reference models with validation through ``vprmetrics``.

:func:`train` runs the benchmark's procedure (Berton et al., "Deep Visual Geo-localization
Benchmark", CVPR 2022; ``shared/reference/models.md``) for descriptor models:

* per epoch ``queries_per_epoch`` training queries in chunks of ``cache_refresh``; for each
  chunk :class:`reference_models.mining.TripletMiner` describes the images it needs with the
  model in eval mode and picks (query, best positive within 10 m, 10 negatives beyond 25 m);
* batches of ``batch_size`` tuples, all ``batch_size * (2 + K)`` images through the model
  at once, loss :func:`~reference_models.losses.triplet_margin_loss` (margin 0.1), or the
  loss study's contrastive / multi-similarity losses on the same images (labels: a query
  takes the database index of its positive, a database image its own index);
* or, with ``sampler="places"`` (the ``cpu-quick`` preset), no mining refresh at all:
  batches of ``places_per_batch`` places x ``images_per_place`` images
  (:class:`reference_models.mining.PlaceSampler`: a training query, a database image of
  its place and more images of it), pairs from the positions (positives within 10 m and,
  with ``max_heading_deg``, the same viewing direction; negatives beyond 25 m) and a loss
  that mines inside the batch (``loss_options`` override the loss study's settings);
* optimiser Adam (lr 1e-5), AdamW (wd 0.01) or SGD (momentum 0.9, wd 5e-4);
* after each epoch Recall@1/5/10 on the validation split, computed by
  :func:`vprmetrics.engine.rank` and :func:`vprmetrics.recall.recall_at_n` under the
  protocol's ground truth; ``best.pt`` keeps the best R@5, training stops after
  ``patience`` (3) epochs without a gain;
* ``last.pt`` after every epoch holds model, optimiser, scaler, miner and RNG states (plain
  tensors, numbers and strings written by ``torch.save`` and read back with
  ``torch.load(..., weights_only=True)``), so ``resume=True`` continues exactly where the
  run stopped; ``log.json`` and ``curve.png`` record the run.

The ``siamese-resnet50`` model trains on pairs instead
(:mod:`reference_models.siamese_training`). On CUDA the forward pass runs under float16
autocast with a gradient scaler; on CPU in float32.

From scratch (no ``weights``) every backbone layer trains (``freeze="auto"``); with
``weights`` the benchmark's frozen layers stay frozen. :data:`PRESETS` holds the
benchmark's defaults (``benchmark``) and a setting that learns in minutes on a CPU
(``cpu-quick``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from reference_models.data import (
    AugmentSpec,
    ImageSpec,
    ImageStore,
    build_augmentation,
    normalize,
)
from reference_models.losses import (
    ContrastiveLoss,
    MultiSimilarityLoss,
    MultiSimilarityMiner,
    TripletMarginLoss,
    triplet_margin_loss,
)
from reference_models.mining import MiningConfig, PlaceSampler, TripletMiner
from vprmetrics.errors import InputError

__all__ = [
    "LOSS_NAMES",
    "OPTIMIZERS",
    "PRESETS",
    "RunResult",
    "TrainConfig",
    "build_loss",
    "build_optimizer",
    "describe_images",
    "evaluate_split",
    "load_checkpoint",
    "open_split",
    "optimizer_step",
    "resolve_device",
    "scheduled_lr",
    "split_protocol",
    "steps_per_epoch",
    "train",
]

OPTIMIZERS: tuple[str, ...] = ("adam", "adamw", "sgd")
LOSS_NAMES: tuple[str, ...] = ("triplet", "contrastive", "multi-similarity")
FREEZE: tuple[str, ...] = ("auto", "benchmark", "none")
SAMPLERS: tuple[str, ...] = ("mined", "places")
LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine")


@dataclass
class TrainConfig:
    """Everything a run needs; saved as ``config.json`` in the run folder.

    Defaults are the benchmark's (``PRESETS["benchmark"]``) except ``epochs`` and
    ``image_size`` (None keeps the files' size).
    """

    model: str = "resnet18-gem"
    protocol: str = "synthtown"
    dataset_root: str = "."
    out: str = "runs/train"
    train_split: str = "train"
    val_split: str = "val"
    epochs: int = 10
    queries_per_epoch: int = 5000
    cache_refresh: int = 1000
    batch_size: int = 4
    negatives_per_query: int = 10
    negative_sample_size: int = 1000
    mining: str = "partial"
    sampler: str = "mined"  # "mined" (benchmark tuples) or "places" (P x K in-batch pairs)
    places_per_batch: int = 16
    images_per_place: int = 4
    max_heading_deg: float | None = None  # positives also within this heading (if known)
    positive_radius_m: float = 10.0
    negative_radius_m: float = 25.0
    loss: str = "triplet"
    margin: float = 0.1
    loss_options: dict[str, float] = field(default_factory=dict)  # e.g. {"base": 0.5}
    optimizer: str = "adam"
    lr: float = 1e-5
    weight_decay: float | None = None  # None: 0 (adam), 0.01 (adamw), 5e-4 (sgd)
    lr_schedule: str = "constant"  # or "cosine": decay to 0 over the epochs' steps
    momentum: float = 0.9
    image_size: tuple[int, int] | None = None
    resize_percent: float | None = None
    crop_top: float = 0.0
    crop_bottom: float = 0.0
    augment: AugmentSpec = field(default_factory=AugmentSpec)
    weights: str | None = None
    freeze: str = "auto"
    netvlad_init_images: int = 500
    netvlad_init_per_image: int = 100
    negative_rank: int = 100  # Siamese pairs: the k-th geographic neighbour is the negative
    device: str = "auto"
    amp: bool | None = None  # None: on for CUDA
    seed: int = 0
    patience: int = 3
    resume: bool = False
    infer_batch_size: int = 32
    recall_at: tuple[int, ...] = (1, 5, 10)
    cache_images: bool = True
    threads: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.augment, dict):
            aug = dict(self.augment)
            if aug.get("crop_scale") is not None:
                aug["crop_scale"] = tuple(aug["crop_scale"])
            self.augment = AugmentSpec(**aug)
        if self.image_size is not None:
            self.image_size = (int(self.image_size[0]), int(self.image_size[1]))
        self.recall_at = tuple(int(n) for n in self.recall_at)
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"unknown optimizer {self.optimizer!r}: choose one of {OPTIMIZERS}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise InputError(f"unknown lr_schedule {self.lr_schedule!r}: choose one of "
                             f"{LR_SCHEDULES}")
        if self.sampler not in SAMPLERS:
            raise InputError(f"unknown sampler {self.sampler!r}: choose one of {SAMPLERS}")
        if self.loss not in LOSS_NAMES:
            raise InputError(f"unknown loss {self.loss!r}: choose one of {LOSS_NAMES}")
        if self.freeze not in FREEZE:
            raise InputError(f"unknown freeze rule {self.freeze!r}: choose one of {FREEZE}")
        if 5 not in self.recall_at:
            raise InputError("recall_at must contain 5: early stopping watches R@5")
        if self.epochs < 1 or self.batch_size < 1 or self.queries_per_epoch < 1:
            raise InputError("epochs, batch_size and queries_per_epoch must be positive")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_json`; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InputError(f"unknown training options {unknown}")
        return cls(**data)


#: Named option sets. ``benchmark``: Berton et al. 2022 defaults. ``cpu-quick``: a small
#: from-scratch setting that trains a ResNet-18 + GeM on the small synthetic town in about
#: four minutes on one shared CPU core: 48x96 images, in-batch mining over batches of 16
#: places x 4 images (positives within 10 m and 45 degrees of heading, negatives beyond
#: 25 m), multi-similarity loss (alpha 2, beta 50, base 0.5), Adam lr 1e-3 with cosine
#: decay, colour jitter, 5 epochs of 100 steps. Its mined-tuple options (``cache_refresh``
#: ...) apply with ``sampler="mined"``.
PRESETS: dict[str, dict[str, Any]] = {
    "benchmark": dict(
        image_size=(480, 640), lr=1e-5, optimizer="adam", queries_per_epoch=5000,
        cache_refresh=1000, batch_size=4, negatives_per_query=10, negative_sample_size=1000,
        mining="partial", loss="triplet", margin=0.1, patience=3, epochs=1000,
    ),
    "cpu-quick": dict(
        image_size=(48, 96), lr=1e-3, optimizer="adam", sampler="places",
        places_per_batch=16, images_per_place=4, max_heading_deg=45.0, queries_per_epoch=1600,
        loss="multi-similarity", loss_options={"alpha": 2.0, "beta": 50.0, "base": 0.5},
        lr_schedule="cosine", augment={"brightness": 0.4, "contrast": 0.4, "saturation": 0.2},
        cache_refresh=256, batch_size=8, negatives_per_query=3, negative_sample_size=300,
        mining="partial", margin=0.1, patience=5, epochs=5,
        netvlad_init_images=100, netvlad_init_per_image=20, infer_batch_size=64,
    ),
}


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


# ----------------------------------------------------------------------- small helpers


def resolve_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA when available, else CPU; otherwise the named device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r} requested but CUDA is not available: use --device cpu")
    return dev


def split_protocol(protocol: Any, split: str) -> Any:
    """The ``split`` sibling of a VG-layout protocol (``images/test/...`` -> ``images/val/...``).

    The VG layout keeps ``train``, ``val`` and ``test`` side by side; the sibling has no
    count to check (``count=None``) and is named ``<name>[<split>]``. Other layouts need a
    protocol of their own for each split.
    """
    if protocol.split == split:
        return protocol
    if protocol.layout != "vg":
        raise InputError(
            f"protocol {protocol.name!r} has layout {protocol.layout!r}: give a protocol for "
            f"its {split!r} split by name"
        )

    def swap(side: Any) -> Any:
        parts = side.path.split("/")
        if protocol.split not in parts:
            raise InputError(
                f"protocol {protocol.name!r}: path {side.path!r} has no {protocol.split!r} "
                f"folder to swap for {split!r}; give a protocol for that split by name"
            )
        parts[parts.index(protocol.split)] = split
        return dataclasses.replace(side, path="/".join(parts), count=None, count_verified=False,
                                   scored_count=None)

    return dataclasses.replace(
        protocol,
        name=f"{protocol.name}[{split}]",
        split=split,
        database=swap(protocol.database),
        queries=swap(protocol.queries),
    )


def open_split(protocol_name: str, dataset_root: str | Path, split: str | None = None) -> Any:
    """Load the dataset of ``protocol_name`` from ``dataset_root``: its ``train``/``val``/
    ``test`` sibling when ``split`` is one of those words, else the protocol named
    ``split``."""
    from vprmetrics.loaders import load_dataset
    from vprmetrics.protocol import load_protocol

    if split is not None and split not in ("train", "val", "test"):
        return load_dataset(load_protocol(split), dataset_root)
    protocol = load_protocol(protocol_name)
    if split is not None:
        protocol = split_protocol(protocol, split)
    return load_dataset(protocol, dataset_root, strict_counts=split is None)


def _bar(iterable: Iterable, total: int | None, desc: str, enabled: bool) -> Iterable:
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=False, file=sys.stderr)


def optimizer_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler) -> float:
    """One (mixed-precision aware) optimisation step on ``loss``; returns its value."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return float(loss.detach())


def _autocast(device: torch.device, amp: bool):
    return torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp)


@torch.no_grad()
def describe_images(
    model: nn.Module,
    store: ImageStore,
    indices: Sequence[int] | np.ndarray | None = None,
    *,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    amp: bool = False,
    progress: bool = False,
    desc: str = "describing",
) -> np.ndarray:
    """float32 descriptors ``model.embed`` gives the ``indices`` images of ``store``.

    The model runs in eval mode (its mode is restored afterwards).
    """
    device = torch.device(device)
    idx = np.arange(len(store)) if indices is None else np.asarray(indices, dtype=np.int64)
    was_training = model.training
    model.eval()
    out = []
    try:
        starts = range(0, len(idx), batch_size)
        for s in _bar(starts, len(starts), desc, progress):
            images = store.batch(idx[s : s + batch_size]).to(device, non_blocking=True)
            with _autocast(device, amp):
                out.append(model.embed(images).float().cpu())
    finally:
        model.train(was_training)
    dim = int(getattr(model, "descriptor_dim", 0))
    return torch.cat(out).numpy() if out else np.zeros((0, dim), np.float32)


def evaluate_split(
    model: nn.Module,
    dataset: Any,
    db_store: ImageStore,
    q_store: ImageStore,
    *,
    recall_at: Sequence[int] = (1, 5, 10),
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    amp: bool = False,
    progress: bool = False,
) -> dict[int, float]:
    """Recall@N of ``model`` on ``dataset`` through vprmetrics' exact engine (L2)."""
    from vprmetrics.engine import rank
    from vprmetrics.recall import recall_at_n

    kw = dict(batch_size=batch_size, device=device, amp=amp, progress=progress)
    db = describe_images(model, db_store, desc="val database", **kw)
    q = describe_images(model, q_store, desc="val queries", **kw)
    k = min(max(recall_at), dataset.n_database)
    facts = rank(q, db, dataset.ground_truth(), metric="l2", k=k, progress=False)
    return recall_at_n(facts, list(recall_at), no_positive=dataset.protocol.no_positive)


def build_optimizer(
    params: Iterable[nn.Parameter], name: str, lr: float, weight_decay: float | None = None,
    momentum: float = 0.9,
) -> torch.optim.Optimizer:
    """Adam (wd 0), AdamW (wd 0.01) or SGD (momentum 0.9, wd 5e-4) as in the loss study."""
    params = [p for p in params if p.requires_grad]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay or 0.0)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=0.01 if weight_decay is None
                                 else weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum,
                               weight_decay=5e-4 if weight_decay is None else weight_decay)
    raise InputError(f"unknown optimizer {name!r}: choose one of {OPTIMIZERS}")


def _trainable_body(model: nn.Module) -> nn.Module | None:
    for name in ("backbone", "branch"):
        body = getattr(model, name, None)
        if isinstance(body, nn.Module):
            return body
    return None


def apply_freeze(model: nn.Module, rule: str, has_weights: bool) -> str:
    """Apply the freezing rule; return the rule used (``benchmark`` or ``none``).

    ``auto`` = ``benchmark`` (the builders' frozen early layers) with pretrained weights,
    ``none`` (every backbone layer trains) from scratch.
    """
    used = ("benchmark" if has_weights else "none") if rule == "auto" else rule
    body = _trainable_body(model)
    if used == "none" and body is not None:
        body.requires_grad_(True)
    return used


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by :func:`train` (never unpickles code objects)."""
    return torch.load(Path(path), map_location=map_location, weights_only=True)


def _load_weights(model: nn.Module, path: str | Path) -> str:
    """Load a local state dict into ``model``; never downloads anything.

    A file whose keys name tensors of the model (a whole model, or a run's ``best.pt``)
    is loaded into it (keys it lacks keep their initial values) and ``model`` is
    returned; anything else is taken for a torchvision backbone state dict (``backbone``,
    loaded by the model's builder).
    """
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise InputError(f"{path} does not hold a state dict")
    own = model.state_dict()
    if not set(state) & set(own):
        return "backbone"
    bad = sorted(k for k in state if k in own and state[k].shape != own[k].shape)
    if bad:
        name = type(model).__name__
        raise InputError(f"{path}: tensor {bad[0]!r} has the wrong shape for {name}")
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    return "model"


def _netvlad_layer(model: nn.Module) -> nn.Module | None:
    from reference_models.aggregators import NetVLAD

    layers = [m for m in model.modules() if isinstance(m, NetVLAD)]
    return layers[0] if len(layers) == 1 else None


def init_netvlad(model: nn.Module, store: ImageStore, cfg: TrainConfig, device: torch.device,
                 rng: np.random.Generator) -> float | None:
    """The benchmark's NetVLAD initialisation from random training database images."""
    from reference_models.aggregators import init_netvlad_from_features, sample_local_descriptors

    layer = _netvlad_layer(model)
    if layer is None:
        return None
    n = min(cfg.netvlad_init_images, len(store))
    picks = np.sort(rng.choice(len(store), n, replace=False))
    gen = torch.Generator().manual_seed(cfg.seed)
    feats = []
    with torch.no_grad():
        for s in range(0, n, cfg.infer_batch_size):
            images = store.batch(picks[s : s + cfg.infer_batch_size]).to(device)
            h, w = images.shape[-2:]
            per_image = min(cfg.netvlad_init_per_image, math.ceil(h / 16) * math.ceil(w / 16))
            feats.append(sample_local_descriptors(model.backbone, images, per_image=per_image,
                                                  generator=gen))
    local = torch.cat(feats)
    if local.shape[0] < layer.num_clusters:
        raise InputError(f"only {local.shape[0]} local descriptors for {layer.num_clusters} "
                         "clusters: raise netvlad_init_images or the image size")
    return init_netvlad_from_features(layer, local, seed=cfg.seed)


# ---------------------------------------------------------------------------- losses


def tuple_loss(desc: torch.Tensor, cfg: TrainConfig, batch: int, k: int,
               labels: torch.Tensor) -> torch.Tensor:
    """Loss of the descriptors of ``batch`` tuples laid out [queries, positives, negatives]."""
    desc = desc.float()
    if cfg.loss == "triplet":
        q, p, n = desc[:batch], desc[batch : 2 * batch], desc[2 * batch :]
        return triplet_margin_loss(q, p, n.reshape(batch, k, -1), margin=cfg.margin)
    return build_loss(cfg)(desc, labels)


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
        return MultiSimilarityLoss(**{"alpha": 1.0, "beta": 50.0, "base": 0.0, **opts},
                                   miner=MultiSimilarityMiner(eps))
    except TypeError as exc:
        raise InputError(f"loss_options {cfg.loss_options} do not fit the {cfg.loss} loss: "
                         f"{exc}") from None


# ------------------------------------------------------------------------------ train


def _rng_state(miner: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": json.dumps(random.getstate()),
        "miner": miner.state_dict(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any], miner: Any) -> None:
    torch.set_rng_state(state["torch"])
    py = json.loads(state["python"])
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    miner.load_state_dict(state["miner"])


def _plot(history: list[dict[str, Any]], path: Path, title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    epochs = [h["epoch"] for h in history]
    fig, ax1 = plt.subplots(figsize=(6, 3.5))
    ax1.plot(epochs, [h["loss"] for h in history], "k.-", label="train loss")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax2 = ax1.twinx()
    for n in history[0]["recall"]:
        ax2.plot(epochs, [h["recall"][n] for h in history], ".-", label=f"val R@{n}")
    ax2.set_ylabel("recall")
    ax2.set_ylim(0, 1)
    lines = ax1.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax2.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="lower right", fontsize=8)
    ax1.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def build_run_model(cfg: TrainConfig) -> tuple[nn.Module, str, str]:
    """The model of ``cfg`` with its weights loaded and freezing applied.

    Returns (model, what ``weights`` held: ``model``/``backbone``/``none``, freeze rule).
    """
    from reference_models.models import build_model

    loaded = "none"
    model = build_model(cfg.model)
    if cfg.weights:
        loaded = _load_weights(model, cfg.weights)
        if loaded == "backbone":
            model = build_model(cfg.model, weights_path=cfg.weights)
    rule = apply_freeze(model, cfg.freeze, has_weights=cfg.weights is not None)
    return model, loaded, rule


def train(config: TrainConfig, *, on_epoch: Callable[[dict[str, Any]], None] | None = None
          ) -> RunResult:
    """Train ``config.model`` and write the run folder ``config.out``; see the module doc.

    With ``config.resume`` and a ``last.pt`` in the run folder, the saved configuration is
    used (only ``epochs``, ``patience``, ``device`` and ``progress`` come from ``config``)
    and training continues after the last finished epoch.
    """
    from reference_models.models import get_spec

    run_dir = Path(config.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    last_path = run_dir / "last.pt"
    checkpoint = None
    cfg = config
    if config.resume and last_path.is_file():
        checkpoint = load_checkpoint(last_path)
        saved = TrainConfig.from_json(json.loads(checkpoint["config"]))
        cfg = dataclasses.replace(saved, epochs=config.epochs, patience=config.patience,
                                  device=config.device, progress=config.progress, resume=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    amp = device.type == "cuda" if cfg.amp is None else bool(cfg.amp and device.type == "cuda")
    spec = get_spec(cfg.model)
    if spec.task not in ("descriptor", "pair"):
        raise InputError(f"model {cfg.model!r} ({spec.task}) is not trainable here yet")

    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)

    train_ds = open_split(cfg.protocol, cfg.dataset_root, cfg.train_split)
    val_ds = open_split(cfg.protocol, cfg.dataset_root, cfg.val_split)
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
    augment = build_augmentation(cfg.augment, stores["train_db"].size())

    model, loaded, freeze_rule = build_run_model(cfg)
    model.to(device)
    if spec.task == "pair":
        from reference_models.siamese_training import PairMiner

        miner: Any = PairMiner(train_ds.database_coords, train_ds.query_coords,
                               negative_rank=cfg.negative_rank, seed=cfg.seed)
    elif cfg.sampler == "places":
        miner = PlaceSampler(
            train_ds.database_coords, train_ds.query_coords,
            train_ds.database_headings, train_ds.query_headings,
            places=cfg.places_per_batch, per_place=cfg.images_per_place,
            positive_radius_m=cfg.positive_radius_m, negative_radius_m=cfg.negative_radius_m,
            max_heading_deg=cfg.max_heading_deg, seed=cfg.seed,
        )
    else:
        miner = TripletMiner(
            train_ds.database_coords,
            train_ds.query_coords,
            MiningConfig(cfg.mining, cfg.positive_radius_m, cfg.negative_radius_m,
                         cfg.negatives_per_query, cfg.negative_sample_size, cfg.cache_refresh,
                         cfg.max_heading_deg),
            seed=cfg.seed,
            database_headings=train_ds.database_headings,
            query_headings=train_ds.query_headings,
        )
    alpha = None
    if checkpoint is None and loaded != "model":
        alpha = init_netvlad(model, stores["train_db"], cfg, device, rng)
    optimizer = build_optimizer(model.parameters(), cfg.optimizer, cfg.lr, cfg.weight_decay,
                                cfg.momentum)
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
        _set_rng_state(checkpoint["rng"], miner)
    else:
        _write_json(run_dir / "config.json", cfg.to_json())

    meta = {
        "model": cfg.model, "protocol": cfg.protocol, "device": str(device), "amp": amp,
        "weights": loaded, "freeze": freeze_rule, "netvlad_alpha": alpha,
        "train": {"database": train_ds.n_database, "queries": train_ds.n_queries},
        "val": {"database": val_ds.n_database, "queries": val_ds.n_queries},
        "image_size": list(stores["train_db"].size()),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }
    t_start = time.perf_counter()
    stopped = False
    if checkpoint is not None and bad_epochs >= cfg.patience:
        stopped = True
    epoch = start_epoch
    while epoch < cfg.epochs and not stopped:
        t0 = time.perf_counter()
        if spec.task == "pair":
            from reference_models.siamese_training import pair_epoch

            losses = pair_epoch(model, miner, stores, cfg, optimizer, scaler, device, amp, augment)
        elif cfg.sampler == "places":
            losses = _place_epoch(model, miner, stores, cfg, optimizer, scaler, device, amp,
                                  augment, epoch)
        else:
            losses = _triplet_epoch(model, miner, stores, cfg, optimizer, scaler, device, amp,
                                    augment, epoch)
        recalls = evaluate_split(model, val_ds, stores["val_db"], stores["val_q"],
                                 recall_at=cfg.recall_at, batch_size=cfg.infer_batch_size,
                                 device=device, amp=amp, progress=cfg.progress)
        epoch += 1
        record = {
            "epoch": epoch,
            "loss": float(np.mean(losses)) if losses else float("nan"),
            "steps": len(losses),
            "recall": {str(n): v for n, v in recalls.items()},
            "seconds": time.perf_counter() - t0,
        }
        if recalls[5] > best_r5:
            best_r5, best_epoch, bad_epochs = recalls[5], epoch, 0
            torch.save({"model": model.state_dict(), "epoch": epoch,
                        "config": json.dumps(cfg.to_json())}, run_dir / "best.pt")
        else:
            bad_epochs += 1
        record["best_epoch"] = best_epoch
        history.append(record)
        stopped = bad_epochs >= cfg.patience
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict() if amp else {},
                "epoch": epoch,
                "best_r5": best_r5,
                "best_epoch": best_epoch,
                "bad_epochs": bad_epochs,
                "history": json.dumps(history),
                "config": json.dumps(cfg.to_json()),
                "rng": _rng_state(miner),
            },
            last_path,
        )
        log = {"meta": meta, "config": cfg.to_json(), "history": history,
               "best_epoch": best_epoch, "stopped_early": stopped}
        _write_json(run_dir / "log.json", log)
        _plot(history, run_dir / "curve.png", f"{cfg.model} on {cfg.protocol}")
        if cfg.progress:
            r = " ".join(f"R@{n} {v:.3f}" for n, v in recalls.items())
            print(f"epoch {epoch}: loss {record['loss']:.4f}  val {r}  "
                  f"({record['seconds']:.0f} s)", file=sys.stderr)
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


def _triplet_epoch(model: nn.Module, miner: TripletMiner, stores: dict[str, ImageStore],
                   cfg: TrainConfig, optimizer: torch.optim.Optimizer,
                   scaler: torch.amp.GradScaler, device: torch.device, amp: bool,
                   augment: Any, epoch: int = 0) -> list[float]:
    """One epoch: mine a chunk, train on it in batches, repeat; per-step losses."""
    losses: list[float] = []
    k = cfg.negatives_per_query
    remaining = cfg.queries_per_epoch
    kw = dict(batch_size=cfg.infer_batch_size, device=device, amp=amp)
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
        batches = range(n_batches)
        for b in _bar(batches, n_batches, "training", cfg.progress):
            if cfg.lr_schedule != "constant":
                _set_lr(optimizer, scheduled_lr(cfg, epoch * steps_per_epoch(cfg) + len(losses)))
            chunk = [triplets[i] for i in order[b * cfg.batch_size : (b + 1) * cfg.batch_size]]
            q_idx = [t.query for t in chunk]
            p_idx = [t.positive for t in chunk]
            n_idx = np.concatenate([t.negatives for t in chunk]).tolist()
            images = torch.cat([
                stores["train_q"].batch(q_idx, augment),
                stores["train_db"].batch(p_idx + n_idx, augment),
            ]).to(device, non_blocking=True)
            labels = torch.tensor(p_idx + p_idx + n_idx, device=device)
            with _autocast(device, amp):
                desc = model(images)
            loss = tuple_loss(desc, cfg, len(chunk), k, labels)
            losses.append(optimizer_step(loss, optimizer, scaler))
    return losses


def steps_per_epoch(cfg: TrainConfig) -> int:
    """Optimisation steps of one epoch (mined tuples: when every chunk is full)."""
    if cfg.sampler == "places":
        return max(1, math.ceil(cfg.queries_per_epoch / cfg.places_per_batch))
    return max(1, cfg.queries_per_epoch // cfg.batch_size)


def scheduled_lr(cfg: TrainConfig, step: int) -> float:
    """The learning rate of global step ``step`` (0-based): constant, or cosine from
    ``lr`` down to 0 over ``epochs * steps_per_epoch`` steps."""
    if cfg.lr_schedule == "constant":
        return cfg.lr
    total = cfg.epochs * steps_per_epoch(cfg)
    return 0.5 * cfg.lr * (1.0 + math.cos(math.pi * min(step, total) / total))


def _set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def _place_epoch(model: nn.Module, sampler: PlaceSampler, stores: dict[str, ImageStore],
                 cfg: TrainConfig, optimizer: torch.optim.Optimizer,
                 scaler: torch.amp.GradScaler, device: torch.device, amp: bool,
                 augment: Any, epoch: int = 0) -> list[float]:
    """One epoch of in-batch training: ``ceil(queries_per_epoch / places_per_batch)``
    batches of P places x K images, pairs from positions (:class:`PlaceSampler`)."""
    losses: list[float] = []
    n_batches = steps_per_epoch(cfg)
    loss_fn = build_loss(cfg)
    n_db = sampler.n_database
    model.train()
    for b in _bar(range(n_batches), n_batches, "training", cfg.progress):
        _set_lr(optimizer, scheduled_lr(cfg, epoch * n_batches + b))
        items = sampler.sample()
        raw = [stores["train_db"].get(int(i)) if i < n_db else stores["train_q"].get(int(i) - n_db)
               for i in items]
        if augment is not None:
            raw = [augment(img) for img in raw]
        images = normalize(torch.stack(raw))
        pos, neg = sampler.masks(items)
        masks = (torch.from_numpy(pos).to(device), torch.from_numpy(neg).to(device))
        with _autocast(device, amp):
            desc = model(images.to(device, non_blocking=True))
        loss = loss_fn(desc.float(), masks=masks)
        losses.append(optimizer_step(loss, optimizer, scaler))
    return losses
