"""benchmark: the Deep VG Benchmark's grid, reduced: backbone x aggregator, mining, resize.

Berton et al., "Deep Visual Geo-localization Benchmark", CVPR 2022, vary one factor of the
training recipe at a time. Three sections here, each cell trained and scored on the test
split through ``vprmetrics``:

* **grid**: backbone x aggregator (``small``: ResNet-18/50 x GeM/NetVLAD; ``full`` adds
  ResNet-101 and VGG16), with the efficiency columns of the paper's Table 3 from
  :func:`reference_models.models.accounting.describe_model` at 480x640 beside the
  published values (:data:`TABLE3`);
* **mining**: ResNet-18 + GeM with the benchmark's mined triplets, negatives by ``full``,
  ``partial`` or ``random`` mining;
* **resize**: ResNet-18 + GeM on images resized to 40, 60, 80 and 100 percent of the
  dataset's size (train and test).

``tiny`` runs one grid cell (ResNet-18 + GeM) and one resize cell (50 percent).
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import Any

from reference_models.studies import common
from reference_models.studies.cells import CellRunner, markdown_table, write_study
from reference_models.training.config import MINING_METHODS

__all__ = ["TABLE3", "add_arguments", "run"]

#: Published Table 3 of Berton et al. 2022 at 480x640: model -> (descriptor size,
#: GFLOPs, size in MB).
TABLE3: dict[str, tuple[int, float, float]] = {
    "resnet18-gem": (256, 17.29, 10.63),
    "resnet18-netvlad": (16384, 17.27, 10.76),
    "resnet50-gem": (1024, 40.61, 32.71),
    "resnet50-netvlad": (65536, 40.51, 33.21),
    "vgg16-gem": (512, 188.01, 56.13),
    "vgg16-netvlad": (32768, 188.09, 56.38),
    "resnet101-gem": (1024, 86.29, 105.36),
}
_GRID = {
    "small": ("resnet18-gem", "resnet18-netvlad", "resnet50-gem", "resnet50-netvlad"),
    "full": (
        "resnet18-gem",
        "resnet18-netvlad",
        "resnet50-gem",
        "resnet50-netvlad",
        "resnet101-gem",
        "resnet101-netvlad",
        "vgg16-gem",
        "vgg16-netvlad",
    ),
}
_RESIZE = (40, 60, 80, 100)
#: Epochs of each ``small`` cell: one (50 steps) where the other studies train two, so that
#: the eleven cells finish in about 15 minutes on one CPU core.
_SMALL_EPOCHS = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_protocol_arguments(parser)


def _cells(scale: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(section, cell name, training options) of ``scale``."""
    if scale == "tiny":
        return [
            ("grid", "resnet18-gem", {"model": "resnet18-gem"}),
            (
                "resize",
                "resize-50",
                {"model": "resnet18-gem", "image_size": None, "resize_percent": 50.0},
            ),
        ]
    cells: list[tuple[str, str, dict[str, Any]]] = [("grid", m, {"model": m}) for m in _GRID[scale]]
    mined: dict[str, Any] = dict(
        model="resnet18-gem", sampler="mined", loss="triplet", margin=0.1, loss_options={}
    )
    cells += [("mining", f"mining-{m}", {**mined, "mining": m}) for m in MINING_METHODS]
    cells += [
        (
            "resize",
            f"resize-{p}",
            {"model": "resnet18-gem", "image_size": None, "resize_percent": float(p)},
        )
        for p in _RESIZE
    ]
    return cells


def _efficiency(model: str) -> dict[str, Any]:
    """Our ``describe`` numbers at 480x640 and the published Table 3 row (if any)."""
    from reference_models.models.accounting import describe_model

    stats = describe_model(model, input_size=(480, 640)).as_dict()
    published = TABLE3.get(model)
    return {
        "dim": stats["descriptor_dim"],
        "gflops": stats["gflops"],
        "size_mb": stats["size_mb"],
        "parameters": stats["parameters"],
        "published": None
        if published is None
        else dict(zip(("dim", "gflops", "size_mb"), published, strict=True)),
    }


def _cell(args: argparse.Namespace, name: str, options: dict[str, Any]) -> dict[str, Any]:
    from reference_models.training.loop import train

    if args.scale == "small":
        options = {"epochs": _SMALL_EPOCHS, **options}
    cfg = common.cell_config(args, name, **options)
    result = train(cfg)
    test = common.score(common.load_best(cfg, result.run_dir), cfg, common.open_test(cfg))
    return {
        "model": cfg.model,
        "options": {k: v for k, v in options.items() if k != "model"},
        "run_dir": str(result.run_dir),
        "best_epoch": result.best_epoch,
        "train_seconds": round(result.train_seconds, 1),
        "test": test,
        "efficiency": _efficiency(cfg.model),
        "r1": test["recall"]["1"],
    }


def run(args: argparse.Namespace, cells: CellRunner) -> dict[str, Any]:
    """Train and score every cell; results.md (one table per section), results.json,
    recall.png."""
    common.setup_threads(args)
    plan = _cells(args.scale)
    cells.total = len(plan)
    results: dict[str, Any] = {}
    sections: dict[str, list[str]] = {}
    for section, name, options in plan:
        results[name] = cells.run(name, partial(_cell, args, name, options))
        results[name]["section"] = section
        sections.setdefault(section, []).append(name)
    recall_cols = [f"R@{n}" for n in common.RECALL_AT]
    parts = [f"# benchmark study ({args.scale}, protocol {args.protocol})"]
    for section, names in sections.items():
        columns = ["cell", *recall_cols, "ms/image", "train s"]
        if section == "grid":
            columns += ["dim", "GFLOPs", "MB", "paper dim", "paper GFLOPs", "paper MB"]
        rows = []
        for name in names:
            r = results[name]
            row = [
                name,
                *[r["test"]["recall"].get(str(n)) for n in common.RECALL_AT],
                r["test"]["ms_per_image"],
                r["train_seconds"],
            ]
            if section == "grid":
                e, p = r["efficiency"], r["efficiency"]["published"] or {}
                row += [
                    e["dim"],
                    e["gflops"],
                    e["size_mb"],
                    p.get("dim"),
                    p.get("gflops"),
                    p.get("size_mb"),
                ]
            rows.append(row)
        parts.append(f"## {section}\n\n" + markdown_table(columns, rows))
    parts.append(f"GFLOPs and MB at 480x640 (`describe`); recalls scored by `{common.SCORED_BY}`.")
    out = Path(args.out)
    common.bar_plot(
        out / "recall.png",
        list(results),
        {
            "R@1": [r["r1"] for r in results.values()],
            "R@5": [r["test"]["recall"]["5"] for r in results.values()],
        },
        f"benchmark study ({args.scale})",
    )
    summary = {"scale": args.scale, "sections": sections, "cells": results, "plots": ["recall.png"]}
    write_study(out, summary, "\n\n".join(parts))
    return {"cells": len(results), "plots": ["recall.png"]}
