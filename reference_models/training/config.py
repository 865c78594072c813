"""What a training run needs, as plain data (no torch): options, presets and their names.

:class:`TrainConfig` holds every option of a run and is saved as ``config.json`` in the run
folder; its defaults are the training procedure of Berton et al., "Deep Visual
Geo-localization Benchmark", CVPR 2022. The tuples below are the only lists of the names
an option accepts: :class:`TrainConfig` checks against them and ``python -m
reference_models train`` offers them as its choices.

>>> cfg = TrainConfig(**PRESETS["cpu-quick"])
>>> cfg.sampler, cfg.image_size, cfg.augment.brightness
('places', (48, 96), 0.4)
>>> TrainConfig.from_json(cfg.to_json()) == cfg
True
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from vprmetrics.errors import InputError

__all__ = [
    "CROSSVIEW_LOSSES",
    "FREEZE_RULES",
    "LOSS_NAMES",
    "LR_SCHEDULES",
    "MINING_METHODS",
    "OPTIMIZERS",
    "PRESETS",
    "SAMPLERS",
    "SCHEDULES",
    "AugmentSpec",
    "TrainConfig",
]

#: Adam (weight decay 0), AdamW (0.01), SGD (momentum 0.9, 5e-4).
OPTIMIZERS: tuple[str, ...] = ("adam", "adamw", "sgd")
#: The benchmark's triplet margin loss and the batch losses of pytorch-metric-learning.
LOSS_NAMES: tuple[str, ...] = ("triplet", "contrastive", "multi-similarity")
#: Cross-view losses over all in-batch triplets (reference_models.training.crossview_losses).
CROSSVIEW_LOSSES: tuple[str, ...] = ("soft-margin-triplet", "max-margin-triplet")
#: ``auto``: ``benchmark`` with pretrained weights, ``none`` from scratch.
FREEZE_RULES: tuple[str, ...] = ("auto", "benchmark", "none")
#: ``mined``: the benchmark's tuples; ``places``: P places x K images, in-batch pairs.
SAMPLERS: tuple[str, ...] = ("mined", "places")
#: ``cosine``: decay to 0 over the run's steps.
LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine")
#: ``single``: one run; ``crn-two-stage``: NetVLAD first, then the CRN mask on top of it
#: (Kim et al. CVPR 2017; :mod:`reference_models.training.two_stage`).
SCHEDULES: tuple[str, ...] = ("single", "crn-two-stage")
#: How the benchmark picks the negatives of a mined tuple.
MINING_METHODS: tuple[str, ...] = ("full", "partial", "random")


@dataclass(frozen=True)
class AugmentSpec:
    """Training augmentation (all off by default). Jitter values as in ``ColorJitter``."""

    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0
    hflip: bool = False
    crop_scale: tuple[float, float] | None = None  # RandomResizedCrop scale range

    @property
    def enabled(self) -> bool:
        jitter = (self.brightness, self.contrast, self.saturation, self.hue)
        return any(jitter) or self.hflip or self.crop_scale is not None


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InputError(f"unknown {what} {value!r}: choose one of {choices}")


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
    sampler: str = "mined"
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
    lr_schedule: str = "constant"
    schedule: str = "single"
    mask_lr_scale: float | None = None  # CRN mask layers at lr x this (two-stage: 10)
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
    aerial_size: tuple[int, int] | None = None  # cross-view: aerial (H, W); image_size: ground
    superbatch_epochs: int = 0  # cross-view: second-stage epochs on k-means super-batches
    superbatch_branching: int = 4  # cross-view: k of the super-batch k-means tree
    dropout: float | None = None  # cross-view: trunk dropout (None: the model's, CVM-Net 0.2)
    superbatch_lr: float | None = None  # cross-view: the super-batch stage's lr (None: lr)
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
        if self.aerial_size is not None:
            self.aerial_size = (int(self.aerial_size[0]), int(self.aerial_size[1]))
        self.recall_at = tuple(int(n) for n in self.recall_at)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_choice("sampler", self.sampler, SAMPLERS)
        _check_choice("loss", self.loss, LOSS_NAMES + CROSSVIEW_LOSSES)
        _check_choice("freeze rule", self.freeze, FREEZE_RULES)
        _check_choice("mining", self.mining, MINING_METHODS)
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise InputError(f"dropout must be in [0, 1), got {self.dropout}")
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
        image_size=(480, 640),
        lr=1e-5,
        optimizer="adam",
        queries_per_epoch=5000,
        cache_refresh=1000,
        batch_size=4,
        negatives_per_query=10,
        negative_sample_size=1000,
        mining="partial",
        loss="triplet",
        margin=0.1,
        patience=3,
        epochs=1000,
    ),
    "cpu-quick": dict(
        image_size=(48, 96),
        lr=1e-3,
        optimizer="adam",
        sampler="places",
        places_per_batch=16,
        images_per_place=4,
        max_heading_deg=45.0,
        queries_per_epoch=1600,
        loss="multi-similarity",
        loss_options={"alpha": 2.0, "beta": 50.0, "base": 0.5},
        lr_schedule="cosine",
        augment={"brightness": 0.4, "contrast": 0.4, "saturation": 0.2},
        cache_refresh=256,
        batch_size=8,
        negatives_per_query=3,
        negative_sample_size=300,
        mining="partial",
        margin=0.1,
        patience=5,
        epochs=5,
        netvlad_init_images=100,
        netvlad_init_per_image=20,
        infer_batch_size=64,
    ),
    # Cross-view (CVM-Net, Hu et al. CVPR 2018): ground 224x1232, aerial 512x512, batches of
    # 12 pairs, weighted soft-margin triplet (alpha 10) over all in-batch triplets, Adam
    # lr 1e-5; for CUDA. CVUSA's 35,532 training pairs per epoch.
    "crossview": dict(
        image_size=(224, 1232),
        aerial_size=(512, 512),
        batch_size=12,
        queries_per_epoch=35532,
        loss="soft-margin-triplet",
        optimizer="adam",
        lr=1e-5,
        epochs=100,
        patience=5,
        netvlad_init_images=500,
        netvlad_init_per_image=100,
    ),
    # Cross-view on 2 CPU cores in minutes, from scratch: ground 32x128, aerial 64x64,
    # batches of 12 pairs, the weighted soft-margin triplet (alpha 10) at CVM-Net's Adam
    # lr 1e-5 with conv1-conv3 frozen as CVM-Net freezes them (here at their He-normal
    # random init) and no dropout (random trunks cannot stand it: set_dropout in
    # training/crossview.py); 6 epochs of 240 pairs on random batches, then 1 epoch on k-means
    # super-batches. Measured in docs/crossview.md; best.pt keeps the best val R@1%.
    "crossview-cpu-quick": dict(
        image_size=(32, 128),
        aerial_size=(64, 64),
        batch_size=12,
        queries_per_epoch=240,
        loss="soft-margin-triplet",
        optimizer="adam",
        lr=1e-5,
        freeze="benchmark",
        dropout=0.0,
        epochs=6,
        superbatch_epochs=1,
        superbatch_branching=4,
        patience=20,
        netvlad_init_images=60,
        netvlad_init_per_image=8,
        infer_batch_size=50,
    ),
}

# The ResNet-50 twins (siamese-xview-resnet50) on the CPU: crossview-cpu-quick, but every
# layer trains (no frozen convs, the model's own dropout) at Adam lr 1e-3 (at 1e-5 the
# batch-normalised twins stay collapsed from scratch) for 10 epochs, and the super-batch
# epoch runs at 1e-4 (at 1e-3 it collapsed the model).
PRESETS["crossview-resnet-cpu-quick"] = {
    **PRESETS["crossview-cpu-quick"],
    "freeze": "auto",
    "dropout": None,
    "lr": 1e-3,
    "epochs": 10,
    "superbatch_lr": 1e-4,
}
