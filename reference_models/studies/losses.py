"""losses: contrastive, triplet and multi-similarity losses x Adam, AdamW and SGD.

The loss/optimiser study of the GSV-XS / SF-XS / Tokyo-XS seed: ResNet-18 cut after its
conv4 block (torchvision ``layer3``), a 3x3 stride-1 average pooling, then GeM
(``resnet18-avggem``; the window is our choice, the paper does not give it), trained with
each loss (contrastive: positive margin 0, negative margin 1; triplet: margin 0.1;
multi-similarity: alpha 1, beta 50, base 0 with its miner, the pytorch-metric-learning
settings) and each optimiser (Adam lr 1e-5, AdamW lr 1e-5 wd 0.01, SGD lr 0.01 momentum
0.9 wd 5e-4) on in-batch place batches. The table gives validation R@1/R@5 after every
epoch (the paper's epochs 00-09) and R@1/R@5 on the test split of the best-R@5 epoch.

Learning rates: ``full`` uses the published ones; ``small`` and ``tiny`` train from
scratch for a few minutes, where 1e-5 moves nothing, so Adam and AdamW run at 1e-3
(the ``cpu-quick`` rate) and SGD at the published 0.01. ``tiny`` runs two cells
(multi-similarity + Adam, contrastive + SGD); ``small`` and ``full`` all nine.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import Any

from reference_models.studies import common
from reference_models.studies.cells import CellRunner, markdown_table, write_study
from reference_models.training.config import LOSS_NAMES, OPTIMIZERS

__all__ = ["LEARNING_RATES", "add_arguments", "run"]

#: Optimiser -> (published lr, lr of the short from-scratch scales).
LEARNING_RATES: dict[str, tuple[float, float]] = {
    "adam": (1e-5, 1e-3),
    "adamw": (1e-5, 1e-3),
    "sgd": (1e-2, 1e-2),
}
_TINY = (("multi-similarity", "adam"), ("contrastive", "sgd"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_protocol_arguments(parser)


def _place_options(scale: str) -> dict[str, Any]:
    """In-batch place batches at every scale (tiny: 4 places x 3 images)."""
    if scale == "tiny":
        return dict(
            sampler="places", places_per_batch=4, images_per_place=3, queries_per_epoch=8, epochs=2
        )
    return dict(sampler="places")


def _cell(args: argparse.Namespace, loss: str, optimizer: str) -> dict[str, Any]:
    from reference_models.training.loop import train

    published, short = LEARNING_RATES[optimizer]
    lr = published if args.scale == "full" else short
    cfg = common.cell_config(
        args,
        f"{loss}-{optimizer}",
        model="resnet18-avggem",
        loss=loss,
        loss_options={},  # the study's settings (the defaults of build_loss)
        optimizer=optimizer,
        lr=lr,
        weight_decay=None,
        **_place_options(args.scale),
    )
    result = train(cfg)
    test = common.score(common.load_best(cfg, result.run_dir), cfg, common.open_test(cfg))
    return {
        "loss": loss,
        "optimizer": optimizer,
        "lr": lr,
        "run_dir": str(result.run_dir),
        "epochs": [
            {"epoch": h["epoch"], "loss": h["loss"], "val_recall": h["recall"]}
            for h in result.history
        ],
        "best_epoch": result.best_epoch,
        "test": test,
        "r1": test["recall"]["1"],
        "r5": test["recall"]["5"],
    }


def run(args: argparse.Namespace, cells: CellRunner) -> dict[str, Any]:
    """Train and score every loss x optimiser; write results.md/json and curves.png."""
    common.setup_threads(args)
    grid = (
        _TINY if args.scale == "tiny" else tuple((ls, o) for ls in LOSS_NAMES for o in OPTIMIZERS)
    )
    cells.total = len(grid)
    results = {
        f"{loss}-{opt}": cells.run(f"{loss}-{opt}", partial(_cell, args, loss, opt))
        for loss, opt in grid
    }
    n_epochs = max(len(r["epochs"]) for r in results.values())
    columns = ["loss", "optimizer", "lr"]
    columns += [f"val {e:02d} R@1/R@5" for e in range(n_epochs)] + ["test R@1", "test R@5"]
    rows = []
    for r in results.values():
        per_epoch = [
            f"{e['val_recall']['1']:.3f} / {e['val_recall']['5']:.3f}" for e in r["epochs"]
        ]
        per_epoch += [""] * (n_epochs - len(per_epoch))
        rows.append([r["loss"], r["optimizer"], r["lr"], *per_epoch, r["r1"], r["r5"]])
    out = Path(args.out)
    md = (
        f"# losses study ({args.scale}, protocol {args.protocol})\n\n"
        + markdown_table(columns, rows)
        + "\n\nValidation after each epoch (epoch 00 = after the first); test at the best "
        f"R@5 epoch, scored by `{common.SCORED_BY}`.\n"
    )
    _curves(out / "curves.png", results, args.scale)
    summary = {"scale": args.scale, "cells": results, "columns": columns, "plots": ["curves.png"]}
    write_study(out, summary, md)
    return {"cells": len(results), "plots": ["curves.png"]}


def _curves(path: Path, results: dict[str, Any], scale: str) -> None:
    """Validation R@5 per epoch, one line per cell."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(7.5, 3.5))
    epochs: set[int] = set()
    for name, r in results.items():
        xs = [e["epoch"] - 1 for e in r["epochs"]]
        epochs.update(xs)
        ax.plot(xs, [e["val_recall"]["5"] for e in r["epochs"]], ".-", label=name)
    ticks = sorted(epochs)
    ax.set_xticks(ticks, [f"{e:02d}" for e in ticks])  # the seed's tables: epochs 00-09
    ax.set_xlabel("epoch")
    ax.set_ylabel("val R@5")
    ax.set_title(f"losses study ({scale})", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    fig.tight_layout()
    common.save_figure(fig, path)
