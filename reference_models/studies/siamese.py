"""siamese: the Siamese ResNet-50 twins under top/bottom crops, then semantic masking.

The seed "Siamese Network for Place Recognition": weight-sharing ResNet-50 branches trained
on pairs (each training query with its nearest geographic neighbour as positive and its
100th nearest as negative, binary cross-entropy; :mod:`reference_models.training.pairs`),
scored twice on the test split: pair-classification accuracy on the same kind of pairs
(sigmoid > 0.5), and retrieval R@N with one branch as the extractor (Euclidean distance,
through ``vprmetrics``), with the top-1 geographic error histogram.

Cells: eight crop settings (U = percent of rows cut at the top, B at the bottom:
U0/10/20/30 x B0/5, which include the paper's best U20 B5), then, on the crop with the
best validation R@5, three pixel-level masks (remove the sky, remove vegetation, keep only
sky and trees; :mod:`reference_models.studies.masking`) from class maps: SynthTown's own
(``generate --class-maps``) or the user's (``--masks DIR``). ``tiny`` runs U20 B5 and
remove-sky.
"""

from __future__ import annotations

import argparse
import itertools
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from reference_models.studies import common
from reference_models.studies.cells import CellRunner, markdown_table, write_study

__all__ = ["CROPS", "add_arguments", "run"]

#: (U, B): percent of the rows cut at the top and at the bottom.
CROPS: tuple[tuple[int, int], ...] = tuple((u, b) for u in (0, 10, 20, 30) for b in (0, 5))
#: Image size per scale (the paper: 128x384 after cropping).
_SIZES = {"tiny": (32, 48), "small": (32, 96), "full": (128, 384)}
#: A positive faces the query's way (perspective views; ignored without headings).
_MAX_HEADING_DEG = 45.0
#: ``small``: one epoch of 640 training queries in batches of 16 (40 steps), Adam lr 3e-4.
_SMALL = dict(epochs=1, queries_per_epoch=640, batch_size=16, lr=3e-4)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_protocol_arguments(parser)
    parser.add_argument(
        "--masks",
        help="class maps for masking (DIR/<image path>.png, classes 0 sky, 1 building, "
        "2 vegetation, 3 road, 4 vehicle, 5 person, 255 unknown); default "
        "<dataset-root>/class_maps",
    )
    parser.add_argument("--negative-rank", type=int, default=100, help="k-th neighbour (100)")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = dict(
        model="siamese-resnet50",
        image_size=_SIZES[args.scale],
        negative_rank=args.negative_rank,
        max_heading_deg=_MAX_HEADING_DEG,
        augment={},
    )
    if args.scale == "small":
        options.update(_SMALL)
    return options


def _pair_scores(
    model: Any, dataset: Any, db: np.ndarray, q: np.ndarray, rank: int
) -> tuple[float, float]:
    """The pair head on each test query's (nearest facing its way, ``rank``-th) pairs:
    accuracy (sigmoid > 0.5 is "same place") and ranking (the share of queries whose
    positive pair gets the higher logit, threshold-free)."""
    import torch

    from reference_models.training.pairs import geographic_pairs

    pos, neg = geographic_pairs(
        dataset.query_coords,
        dataset.database_coords,
        rank,
        query_headings=dataset.query_headings,
        database_headings=dataset.database_headings,
        max_heading_deg=_MAX_HEADING_DEG,
    )
    fq = torch.from_numpy(np.concatenate([q, q]))
    fd = torch.from_numpy(np.concatenate([db[pos], db[neg]]))
    with torch.no_grad():
        head = model.head.to("cpu")
        logits = head((fq - fd).abs()).squeeze(1).numpy()
    positive, negative = logits[: len(pos)], logits[len(pos) :]
    accuracy = (np.sum(positive > 0) + np.sum(negative <= 0)) / logits.size
    return float(accuracy), float(np.mean(positive > negative))


def _cell(args: argparse.Namespace, name: str, root: str, crop: tuple[int, int]) -> dict[str, Any]:
    from reference_models.training.loop import train

    cfg = common.cell_config(
        args,
        name,
        dataset_root=root,
        crop_top=float(crop[0]),
        crop_bottom=float(crop[1]),
        **_options(args),
    )
    result = train(cfg)
    model = common.load_best(cfg, result.run_dir)
    dataset = common.open_test(cfg)
    desc: dict[str, np.ndarray] = {}
    test = common.score(model, cfg, dataset, descriptors=desc)
    accuracy, ranking = _pair_scores(
        model, dataset, desc["database"], desc["queries"], args.negative_rank
    )
    return {
        "crop": list(crop),
        "run_dir": str(result.run_dir),
        "best_epoch": result.best_epoch,
        "val_recall": {str(k): v for k, v in result.best_recalls.items()},
        "test": test,
        "pair_accuracy": accuracy,
        "pair_ranking": ranking,
        "r1": test["recall"]["1"],
    }


def _masked_cell(
    args: argparse.Namespace, name: str, cfg: Any, setting: str, crop: tuple[int, int]
) -> dict[str, Any]:
    """A cell trained and scored on the dataset masked by ``setting``."""
    return _cell(args, name, _masked_root(args, cfg, setting), crop)


def _masked_root(args: argparse.Namespace, cfg: Any, setting: str) -> str:
    """A copy of the dataset's train/val/test images masked by ``setting``."""
    from reference_models.studies.masking import MASK_SETTINGS, masked_copy
    from reference_models.training.splits import open_split

    out = Path(args.out) / "masked" / setting
    for split in ("train", "val", "test"):
        ds = open_split(cfg.protocol, cfg.dataset_root, split)
        ids = [*ds.database_ids.tolist(), *ds.query_ids.tolist()]
        masked_copy(cfg.dataset_root, ids, out, MASK_SETTINGS[setting], args.masks)
    return str(out)


def _check_masks(args: argparse.Namespace, cfg: Any) -> None:
    """Fail before any training when the first test image has no class map."""
    from PIL import Image

    from reference_models.studies.masking import class_map_path, read_class_map
    from reference_models.synthtown.dataset import CLASS_MAP_DIR

    dataset = common.open_test(cfg)
    first = str(dataset.database_ids[0])
    masks = args.masks or Path(cfg.dataset_root) / CLASS_MAP_DIR
    with Image.open(Path(cfg.dataset_root) / first) as img:
        size = img.size
    read_class_map(class_map_path(masks, first), size)


def run(args: argparse.Namespace, cells: CellRunner) -> dict[str, Any]:
    """Crop cells, then mask cells on the best crop; results.md/json, geo_error.png,
    recall.png."""
    from reference_models.studies.masking import MASK_SETTINGS

    common.setup_threads(args)
    crops = ((20, 5),) if args.scale == "tiny" else CROPS
    masks = ("remove-sky",) if args.scale == "tiny" else tuple(MASK_SETTINGS)
    cells.total = len(crops) + len(masks)
    cfg = common.cell_config(args, "masking", **_options(args))
    _check_masks(args, cfg)
    results: dict[str, Any] = {}
    for u, b in crops:
        name = f"U{u}-B{b}"
        results[name] = cells.run(name, partial(_cell, args, name, str(args.dataset_root), (u, b)))
    best = max(crops, key=lambda c: results[f"U{c[0]}-B{c[1]}"]["val_recall"].get("5", 0.0))
    for setting in masks:
        name = f"U{best[0]}-B{best[1]}-{setting}"
        results[name] = cells.run(name, partial(_masked_cell, args, name, cfg, setting, best))
    columns = ["cell", "U %", "B %", "pair accuracy", "pair ranking"]
    columns += [f"R@{n}" for n in common.RECALL_AT]
    columns += ["median error m"]
    rows = [
        [name, r["crop"][0], r["crop"][1], r["pair_accuracy"], r["pair_ranking"]]
        + [r["test"]["recall"].get(str(n)) for n in common.RECALL_AT]
        + [(r["test"]["geo_error_m"] or {}).get("median")]
        for name, r in results.items()
    ]
    out = Path(args.out)
    md = (
        f"# siamese study ({args.scale}, protocol {args.protocol})\n\n"
        + markdown_table(columns, rows)
        + f"\n\nBest crop by validation R@5: U{best[0]} B{best[1]}. Retrieval with one branch "
        f"(L2), scored by `{common.SCORED_BY}`; pair accuracy (sigmoid > 0.5) and pair ranking "
        f"(positive logit above negative) on each test query's nearest database image facing "
        f"its way and its {args.negative_rank}th-nearest.\n"
    )
    common.bar_plot(
        out / "recall.png",
        list(results),
        {
            "R@1": [r["r1"] for r in results.values()],
            "pair accuracy": [r["pair_accuracy"] for r in results.values()],
        },
        f"siamese study ({args.scale})",
        ylabel="share",
    )
    _geo_error_plot(out / "geo_error.png", results)
    plots = ["recall.png", "geo_error.png"]
    summary = {
        "scale": args.scale,
        "best_crop": list(best),
        "cells": results,
        "columns": columns,
        "plots": plots,
    }
    write_study(out, summary, md)
    return {"cells": len(results), "best_crop": list(best), "plots": plots}


def _geo_error_plot(path: Path, results: dict[str, Any]) -> None:
    """The top-1 geographic error histogram of every cell (fractions per bin)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(7, 3.5))
    hists = {n: r["test"]["geo_error_m"] for n, r in results.items() if r["test"]["geo_error_m"]}
    if not hists:
        plt.close(fig)
        return
    edges = next(iter(hists.values()))["edges_m"]
    labels = [
        f"{lo:g}-{hi:g}" if hi is not None else f">{lo:g}" for lo, hi in itertools.pairwise(edges)
    ]
    width = 0.8 / len(hists)
    x = np.arange(len(labels))
    for i, (name, h) in enumerate(hists.items()):
        ax.bar(x + i * width - 0.4 + width / 2, h["fractions"], width, label=name)
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=7)
    ax.set_xlabel("top-1 geographic error (m)")
    ax.set_ylabel("share of queries")
    ax.legend(fontsize=6)
    fig.tight_layout()
    common.save_figure(fig, path)
