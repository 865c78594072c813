"""heads: ResNet-18 with the base (average) head, GeM, NetVLAD, CRN and our CRN2.

The GeM / NetVLAD / CRN / CRN2 study: one ResNet-18 (cut after its conv4 block, as in the
benchmark) per head, trained the same way; CRN and CRN2 with the two-stage schedule of Kim
et al. CVPR 2017 (:mod:`reference_models.training.two_stage`) on top of this study's
NetVLAD cell. Each cell reports R@1/5/10/20 on the test split and on a domain-shifted test
set, the descriptor size and the per-image extraction time; the figure
``heatmaps.png`` shows the soft assignment summed over the clusters for NetVLAD, CRN and
CRN2 on the same query (:func:`reference_models.models.heatmaps.assignment_heatmaps`).

The domain-shifted set: ``--shifted-protocol NAME`` (with ``--shifted-root DIR``), e.g.
St Lucia; by default the test queries taken under ``--shifted-conditions`` (SynthTown:
``night,fog``) against the same daytime database. ``tiny`` runs NetVLAD and CRN (two
cells), ``small`` and ``full`` all five heads.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import Any

from reference_models.studies import common
from reference_models.studies.cells import CellRunner, markdown_table, write_study

__all__ = ["HEADS", "add_arguments", "run"]

#: Head name -> aggregation of the registry (``resnet18-<aggregation>``).
HEADS: dict[str, str] = {
    "base": "avg",
    "gem": "gem",
    "netvlad": "netvlad",
    "crn": "crn",
    "crn2": "crn2",
}
_TINY = ("netvlad", "crn")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_protocol_arguments(parser)
    parser.add_argument("--shifted-protocol", help="protocol of the domain-shifted test set")
    parser.add_argument("--shifted-root", help="its dataset folder (default --dataset-root)")
    parser.add_argument(
        "--shifted-conditions",
        default="night,fog",
        help="without --shifted-protocol: test queries under these conditions (night,fog)",
    )
    parser.add_argument("--heatmap-query", type=int, default=0, help="query of the figure (0)")


def _shifted(args: argparse.Namespace, cfg: Any) -> tuple[Any, Any, str]:
    """(dataset, query subset or None, description) of the domain-shifted test set."""
    if args.shifted_protocol:
        root = args.shifted_root or args.dataset_root
        return common.open_test(cfg, args.shifted_protocol, root), None, args.shifted_protocol
    words = tuple(w for w in args.shifted_conditions.split(",") if w)
    dataset = common.open_test(cfg)
    subset = common.condition_subset(dataset.query_ids, words)
    if subset.size == 0:  # no condition names: the whole test split again
        return dataset, None, "test (no condition in the names)"
    return dataset, subset, f"test queries under {'/'.join(words)}"


def _cell(args: argparse.Namespace, head: str, runs: dict[str, Path]) -> dict[str, Any]:
    from reference_models.training.loop import train
    from reference_models.training.two_stage import train_two_stage

    cfg = common.cell_config(args, head, model=f"resnet18-{HEADS[head]}")
    if head in ("crn", "crn2"):
        result = train_two_stage(cfg, train, stage1_run=runs.get("netvlad"))
    else:
        result = train(cfg)
    model = common.load_best(cfg, result.run_dir)
    test = common.score(model, cfg, common.open_test(cfg))
    dataset, subset, described = _shifted(args, cfg)
    shifted = common.score(model, cfg, dataset, query_subset=subset)
    return {
        "model": cfg.model,
        "run_dir": str(result.run_dir),
        "schedule": "crn-two-stage" if head in ("crn", "crn2") else "single",
        "best_epoch": result.best_epoch,
        "val_recall": {str(k): v for k, v in result.best_recalls.items()},
        "test": test,
        "shifted": {**shifted, "set": described},
        "descriptor_dim": test["descriptor_dim"],
        "ms_per_image": test["ms_per_image"],
        "r1": test["recall"]["1"],
        "shifted_r1": shifted["recall"]["1"],
    }


def _heatmap_figure(args: argparse.Namespace, results: dict[str, Any], path: Path) -> bool:
    """NetVLAD / CRN / CRN2 heatmaps of one test query beside it; False if nothing to draw."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    import torch
    import torch.nn.functional as F

    from reference_models.images import ImageSpec, ImageStore
    from reference_models.models.heatmaps import assignment_heatmaps

    names = [h for h in ("netvlad", "crn", "crn2") if h in results]
    if not names:
        return False
    cfg = common.cell_config(args, names[0], model=results[names[0]]["model"])
    dataset = common.open_test(cfg)
    index = min(max(args.heatmap_query, 0), dataset.n_queries - 1)
    store = ImageStore(dataset.root, [dataset.query_ids[index]], ImageSpec(cfg.image_size))
    image = store.batch([0])
    fig, axes = plt.subplots(2, len(names) + 1, figsize=(3 * (len(names) + 1), 4))
    shown = store.get(0).permute(1, 2, 0).numpy()
    for row in range(2):
        axes[row, 0].imshow(shown)
        axes[row, 0].set_title(f"query {index}", fontsize=8)
    for col, head in enumerate(names, start=1):
        model = common.load_best(
            common.cell_config(args, head, model=results[head]["model"]), results[head]["run_dir"]
        )
        with torch.no_grad():
            maps = assignment_heatmaps(model.aggregator, model.backbone(image))
        for row, kind in enumerate(("assignment", "contribution")):
            up = F.interpolate(maps[kind][:, None], size=image.shape[-2:], mode="bilinear")
            heat = up[0, 0].numpy()
            # assignment from 0 (a flat NetVLAD map stays flat), contribution min to max
            low = 0.0 if kind == "assignment" else float(heat.min())
            high = max(float(heat.max()), low + 1e-6)
            shown_map = axes[row, col].imshow(heat, cmap="viridis", vmin=low, vmax=high)
            fig.colorbar(shown_map, ax=axes[row, col], fraction=0.03)
            axes[row, col].set_title(f"{head}: {kind}", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    common.save_figure(fig, path)
    return True


def run(args: argparse.Namespace, cells: CellRunner) -> dict[str, Any]:
    """Train and score every head; write results.md/json, recall.png and heatmaps.png."""
    common.setup_threads(args)
    heads = _TINY if args.scale == "tiny" else tuple(HEADS)
    cells.total = len(heads)
    results: dict[str, Any] = {}
    runs: dict[str, Path] = {}
    for head in heads:
        results[head] = cells.run(head, partial(_cell, args, head, runs))
        runs[head] = Path(results[head]["run_dir"])
    columns = ["head", "model", "dim", "ms/image"]
    columns += [f"test R@{n}" for n in common.RECALL_AT] + [
        f"shifted R@{n}" for n in common.RECALL_AT
    ]
    rows = []
    for head, r in results.items():
        rows.append(
            [head, r["model"], r["descriptor_dim"], r["ms_per_image"]]
            + [r["test"]["recall"].get(str(n)) for n in common.RECALL_AT]
            + [r["shifted"]["recall"].get(str(n)) for n in common.RECALL_AT]
        )
    out = Path(args.out)
    shifted_set = next(iter(results.values()))["shifted"]["set"]
    md = (
        f"# heads study ({args.scale}, protocol {args.protocol})\n\n"
        + markdown_table(columns, rows)
        + f"\n\nShifted set: {shifted_set}. Scored by `{common.SCORED_BY}`.\n"
    )
    common.bar_plot(
        out / "recall.png",
        list(results),
        {
            "test R@1": [r["test"]["recall"]["1"] for r in results.values()],
            "shifted R@1": [r["shifted"]["recall"]["1"] for r in results.values()],
        },
        f"heads study ({args.scale})",
    )
    plots = ["recall.png"]
    if _heatmap_figure(args, results, out / "heatmaps.png"):
        plots.append("heatmaps.png")
    summary = {"scale": args.scale, "cells": results, "columns": columns, "plots": plots}
    write_study(out, summary, md)
    return {"cells": len(results), "plots": plots}
