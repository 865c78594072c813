"""``python -m reference_models train``: train a reference model on a protocol's dataset.

Example (the CPU quick preset on the synthetic town)::

    python -m reference_models train --model resnet18-gem --protocol synthtown \\
        --dataset-root data --out runs/gem --preset cpu-quick

The training and validation splits are the ``train`` and ``val`` siblings of the protocol's
folders (VG layout), or protocols named by ``--train-split`` / ``--val-split``. Options left
out take the preset's value, then the benchmark's defaults (:class:`TrainConfig`). See
:mod:`reference_models.training.loop` for what a run does and writes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from reference_models.cli.options import (
    non_negative_int,
    parse_augment,
    parse_input_size,
    positive_int,
)
from reference_models.training.config import (
    CROSSVIEW_LOSSES,
    FREEZE_RULES,
    LOSS_NAMES,
    MINING_METHODS,
    OPTIMIZERS,
    PRESETS,
    SCHEDULES,
    TrainConfig,
)

__all__ = ["add_parser", "config_from_args", "run"]


#: CLI option -> TrainConfig field (only options given on the command line override).
_FIELDS = (
    "model",
    "protocol",
    "dataset_root",
    "out",
    "train_split",
    "val_split",
    "epochs",
    "queries_per_epoch",
    "cache_refresh",
    "batch_size",
    "negatives_per_query",
    "negative_sample_size",
    "mining",
    "loss",
    "margin",
    "optimizer",
    "lr",
    "weight_decay",
    "image_size",
    "resize_percent",
    "crop_top",
    "crop_bottom",
    "augment",
    "weights",
    "freeze",
    "device",
    "seed",
    "patience",
    "resume",
    "infer_batch_size",
    "threads",
    "negative_rank",
    "aerial_size",
    "superbatch_epochs",
    "dropout",
    "superbatch_lr",
    "schedule",
)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig from the preset, then every option given on the command line."""
    values = dict(PRESETS[args.preset]) if args.preset else {}
    for name in _FIELDS:
        value = getattr(args, name, None)
        if value is not None and value is not False:
            values[name] = value
    if args.amp is not None:
        values["amp"] = args.amp == "on"
    values["progress"] = not args.quiet
    return TrainConfig(**values)


def run(args: argparse.Namespace) -> int:
    """CLI entry: train, print the result as one JSON line."""
    from vprmetrics.errors import require

    require("torch", "models", "training reference models")
    from reference_models.training.loop import train

    result = train(config_from_args(args))
    out = dataclasses.asdict(result)
    out["run_dir"] = str(result.run_dir)
    out.pop("history")
    print(json.dumps(out))
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``train`` subcommand (torch is imported only when it runs)."""
    p = subparsers.add_parser(
        "train",
        help="train a reference model (triplets, or pairs for the Siamese model)",
        description="Train with the VG benchmark's triplet procedure (Siamese: pairs), "
        "validate Recall@N through vprmetrics after each epoch, stop early on R@5.",
    )
    p.add_argument("--model", required=True, help="registry name, e.g. resnet18-gem")
    p.add_argument("--protocol", required=True, help="protocol name, e.g. synthtown")
    p.add_argument("--dataset-root", required=True, help="dataset folder")
    p.add_argument("--out", required=True, help="run folder (checkpoints, log.json, curve.png)")
    p.add_argument(
        "--preset", choices=tuple(PRESETS), help="option set; explicit options override it"
    )
    p.add_argument("--train-split", help="split folder or protocol name (default train)")
    p.add_argument("--val-split", help="split folder or protocol name (default val)")
    p.add_argument("--epochs", type=positive_int, help="maximum epochs")
    p.add_argument(
        "--queries-per-epoch", type=positive_int, help="training queries per epoch (5000)"
    )
    p.add_argument("--cache-refresh", type=positive_int, help="queries per mining refresh (1000)")
    p.add_argument("--batch-size", type=positive_int, help="queries (tuples) per batch (4)")
    p.add_argument("--negatives-per-query", type=positive_int, help="negatives per query (10)")
    p.add_argument("--negative-sample-size", type=positive_int, help="mining sample size (1000)")
    p.add_argument("--mining", choices=MINING_METHODS, help="(partial)")
    p.add_argument("--loss", choices=LOSS_NAMES + CROSSVIEW_LOSSES, help="(triplet)")
    p.add_argument("--margin", type=float, help="triplet margin (0.1)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="(adam)")
    p.add_argument("--lr", type=float, help="learning rate (1e-5)")
    p.add_argument("--weight-decay", type=float, help="(adam 0, adamw 0.01, sgd 5e-4)")
    p.add_argument("--image-size", type=parse_input_size, help="resize to HxW, e.g. 96x128")
    p.add_argument("--resize-percent", type=float, help="resize by a percentage instead")
    p.add_argument("--crop-top", type=float, help="percent of rows cut at the top (U20: 20)")
    p.add_argument("--crop-bottom", type=float, help="percent cut at the bottom (B5: 5)")
    p.add_argument(
        "--augment",
        type=parse_augment,
        help="comma list of jitter,flip,crop (colour jitter, horizontal flip, "
        "random resized crop) or none",
    )
    p.add_argument(
        "--schedule",
        choices=SCHEDULES,
        help="crn-two-stage: NetVLAD in OUT/netvlad, then the CRN mask on it in OUT/crn (SGD, "
        "mask lr 5e-3, rest 5e-4)",
    )
    p.add_argument("--weights", help="local state dict to start from (never downloaded)")
    p.add_argument(
        "--freeze",
        choices=FREEZE_RULES,
        help="auto: benchmark's frozen layers with --weights, none from scratch",
    )
    p.add_argument("--device", help="auto (CUDA when present), cpu, cuda, cuda:1")
    p.add_argument("--amp", choices=("on", "off"), help="mixed precision (default: on CUDA)")
    p.add_argument("--seed", type=non_negative_int, help="random seed (0)")
    p.add_argument(
        "--patience", type=positive_int, help="epochs without R@5 gain before stopping (3)"
    )
    p.add_argument(
        "--negative-rank", type=positive_int, help="Siamese: k-th neighbour as negative (100)"
    )
    p.add_argument(
        "--infer-batch-size", type=positive_int, help="images per forward pass when caching"
    )
    p.add_argument("--aerial-size", type=parse_input_size, help="cross-view: aerial HxW")
    p.add_argument(
        "--superbatch-epochs",
        type=non_negative_int,
        help="cross-view: second-stage super-batch epochs",
    )
    p.add_argument(
        "--superbatch-lr", type=float, help="cross-view: learning rate of the super-batch stage"
    )
    p.add_argument(
        "--dropout", type=float, help="cross-view: trunk dropout (CVM-Net 0.2; 0 from scratch)"
    )
    p.add_argument("--threads", type=positive_int, help="torch CPU threads")
    p.add_argument("--resume", action="store_true", help="continue from <out>/last.pt")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)
    return p
