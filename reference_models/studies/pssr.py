"""PSSR study (Debnath et al.): R@1% under every convention and tie policy against PSSR.

``python -m reference_models study pssr --dataset-root DATA/synthtown-crossview --out DIR``

Cells (each resumable, :class:`reference_models.studies.cells.CellRunner`):

* ``constructed-<kind>``: the constructed embeddings of
  :func:`reference_models.studies.pssr_scores.constructed_embeddings` (collapsed,
  few-cluster, random, matched) with ``--constructed-n`` pairs (default 8,884, the CVUSA
  test size);
* ``raw-pixels``: the raw-pixel cross-view baseline on the validation pairs (grey 16x32
  box averages of both views, :func:`reference_models.synthtown.baseline.raw_pixel_descriptors`);
* ``tree-constructed-<kind>``: the k-means search tree on the matched and few-cluster
  constructed embeddings;
* ``train-<model>`` for each ``--train`` model: a training run (preset
  :func:`training_preset`: ``crossview-cpu-quick`` for the VGG16 models and
  ``crossview-resnet-cpu-quick`` for the ResNet-50 twins at scale ``small``, ``crossview``
  at ``full``, a few steps at ``tiny``), then ``model-<model>``: its exported submission scored, and
  ``tree-<model>``: the k-means search tree on its descriptors; ``--runs NAME=DIR`` scores
  existing runs.

Every number comes from ``vprmetrics`` (:mod:`reference_models.studies.pssr_scores`). The
study writes ``results.json``, ``results.md``, ``pssr_histograms.png`` (the paper's figures
7-9: per-query PSSR histograms) and ``kmeans_tree.png``. torch is imported only in ``run``.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import numpy as np

from reference_models.studies import common
from reference_models.studies.cells import markdown_table, write_study
from reference_models.studies.pssr_scores import (
    CONSTRUCTED,
    RECALL_TARGETS,
    score_descriptors,
    tree_search,
)
from vprmetrics.errors import InputError
from vprmetrics.files import write_atomic
from vprmetrics.metrics.recall import PERCENT_CONVENTIONS
from vprmetrics.metrics.ties import TIE_POLICIES

__all__ = ["add_arguments", "run", "training_preset"]

#: Constructed embeddings whose descriptors the k-means tree is also evaluated on.
_TREE_CONSTRUCTED = ("matched", "few-cluster")
_TINY = dict(
    image_size=(16, 64),
    aerial_size=(32, 32),
    batch_size=4,
    queries_per_epoch=8,
    epochs=1,
    superbatch_epochs=1,
    netvlad_init_images=8,
    netvlad_init_per_image=2,
    infer_batch_size=16,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The study's options beyond the common ones."""
    parser.add_argument("--protocol", default="synthtown-crossview", help="cross-view protocol")
    parser.add_argument(
        "--train", default="", help="comma list of cross-view models to train, e.g. cvm-net-i"
    )
    parser.add_argument(
        "--runs", default="", help="comma list NAME=RUN_DIR of trained runs to score"
    )
    parser.add_argument(
        "--constructed-n", type=int, help="pairs of the constructed embeddings (8884; tiny 120)"
    )
    parser.add_argument("--tree-k", type=int, default=4, help="k of the k-means tree (4)")


def _runs(text: str) -> dict[str, Path]:
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InputError(f"--runs item {item!r} must be NAME=RUN_DIR")
        out[name] = Path(path)
    return out


def run(args: argparse.Namespace, cells: Any) -> dict[str, Any]:
    """Run every cell, write the tables and plots; return the summary."""
    common.setup_threads(args)
    out = Path(args.out)
    n = args.constructed_n or (120 if args.scale == "tiny" else 8884)
    models = [m for m in (t.strip() for t in args.train.split(",")) if m]
    runs = _runs(args.runs)
    cells.total = len(CONSTRUCTED) + len(_TREE_CONSTRUCTED) + 1 + 3 * len(models) + 2 * len(runs)
    results: dict[str, Any] = {}
    for kind in CONSTRUCTED:
        results[kind] = cells.run(f"constructed-{kind}", lambda k=kind: _constructed(k, n))
    results["raw-pixels"] = cells.run("raw-pixels", lambda: _raw_pixels(args))
    for model in models:
        run_dir = out / "runs" / model
        cells.run(f"train-{model}", lambda m=model, d=run_dir: _train(args, m, d))
        runs[model] = run_dir
    trees: dict[str, Any] = {}
    for kind in _TREE_CONSTRUCTED:
        trees[kind] = cells.run(
            f"tree-constructed-{kind}", lambda k=kind: _tree_constructed(k, n, args.tree_k)
        )["rows"]
    for name, run_dir in runs.items():
        sub = out / "submissions" / f"{name}.npz"
        results[name] = cells.run(f"model-{name}", lambda d=run_dir, s=sub: _model(args, d, s))
        trees[name] = cells.run(f"tree-{name}", lambda s=sub: _tree(s, args.tree_k))["rows"]
    summary = {"rows": results, "trees": trees, "constructed_n": n}
    _plot_histograms(results, out / "pssr_histograms.png")
    _plot_trees(trees, out / "kmeans_tree.png")
    write_study(out, summary, markdown(results, trees))
    return {"cells": len(results) + len(trees), "results": str(out / "results.md")}


def _constructed(kind: str, n: int) -> dict[str, Any]:
    from reference_models.studies.pssr_scores import constructed_embeddings

    return score_descriptors(*constructed_embeddings(kind, n, seed=0))


def _tree_constructed(kind: str, n: int, k: int) -> dict[str, Any]:
    from reference_models.studies.pssr_scores import constructed_embeddings

    return {"rows": tree_search(*constructed_embeddings(kind, n, seed=0), k=k)}


def _raw_pixels(args: argparse.Namespace) -> dict[str, Any]:
    from PIL import Image

    from reference_models.synthtown.baseline import raw_pixel_descriptors
    from reference_models.training.crossview import crossview_split

    ds = crossview_split(args.protocol, args.dataset_root, "val")

    def describe(ids: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        imgs = [np.asarray(Image.open(ds.root / i).convert("RGB").resize(size[::-1])) for i in ids]
        return raw_pixel_descriptors(np.stack(imgs))

    ground = describe(ds.query_ids, (64, 256))
    aerial = describe(ds.database_ids, (128, 128))
    return score_descriptors(ground, aerial)


def training_preset(scale: str, model: str) -> str:
    """The training preset of ``model`` at ``scale`` (``tiny`` shortens it to a few steps).

    The batch-normalised ResNet-50 twins need Adam lr 1e-3 from scratch (at CVM-Net's 1e-5
    they stay collapsed); the plain VGG16 models learn at 1e-5.

    >>> training_preset("small", "cvm-net-i"), training_preset("small", "siamese-xview-resnet50")
    ('crossview-cpu-quick', 'crossview-resnet-cpu-quick')
    """
    if scale == "full":
        return "crossview"
    return "crossview-resnet-cpu-quick" if "resnet" in model else "crossview-cpu-quick"


def _train(args: argparse.Namespace, model: str, run_dir: Path) -> dict[str, Any]:
    from reference_models.training.config import PRESETS, TrainConfig
    from reference_models.training.loop import train

    values = dict(PRESETS[training_preset(args.scale, model)])
    if args.scale == "tiny":
        values.update(_TINY)
    cfg = TrainConfig(
        **values,
        model=model,
        protocol=args.protocol,
        dataset_root=str(args.dataset_root),
        out=str(run_dir),
        device=args.device,
        threads=args.threads,
        progress=False,
    )
    result = train(cfg)
    return {
        "run_dir": str(run_dir),
        "best_epoch": result.best_epoch,
        "best_recalls": result.best_recalls,
        "train_seconds": result.train_seconds,
        "history": result.history,
    }


def _model(args: argparse.Namespace, run_dir: Path, sub: Path) -> dict[str, Any]:
    from reference_models.export import export_submission

    export_submission(run_dir, args.protocol, args.dataset_root, sub, device=args.device)
    with np.load(sub, allow_pickle=False) as data:
        return {**score_descriptors(data["queries"], data["database"]), "submission": str(sub)}


def _tree(sub: Path, k: int) -> dict[str, Any]:
    with np.load(sub, allow_pickle=False) as data:
        return {"rows": tree_search(data["queries"], data["database"], k=k)}


def markdown(results: dict[str, Any], trees: dict[str, Any]) -> str:
    """The study's tables: R@1% per convention, the tie grid, R@N and PSSR, the tree."""
    names = list(PERCENT_CONVENTIONS)
    any_row = next(iter(results.values()))
    cut = ", ".join(f"{c} {any_row['cutoffs'][c]}" for c in names)
    parts = [
        f"### R@1% under the six conventions (own tie rule; ceil: expected)\n\n"
        f"Cut-offs for the first row's n = {any_row['n']}: {cut}.\n"
    ]
    rows = [
        [name, r["n"], *(100 * r["r_at_1pct"][c] for c in names)] for name, r in results.items()
    ]
    parts.append(markdown_table(["embedding", "n", *names], rows))
    parts.append("\n### R@1% cut-off of each convention under each tie policy (%)\n")
    grid_cols = [f"{c} {p}" for c in ("ceil", "cvm-net", "safa") for p in TIE_POLICIES]
    rows = [
        [
            name,
            *(
                100 * r["r_at_1pct_grid"][c][p]
                for c in ("ceil", "cvm-net", "safa")
                for p in TIE_POLICIES
            ),
        ]
        for name, r in results.items()
    ]
    parts.append(markdown_table(["embedding", *grid_cols], rows))
    parts.append("\n### R@1/5/10 (expected ties, %) and PSSR\n")
    fr = [str(t) for t in RECALL_TARGETS]
    rows = [
        [
            name,
            *(100 * r["recall"][k] for k in ("1", "5", "10")),
            r["pssr"]["mean"],
            r["pssr"]["median"],
            *(r["pssr"]["fraction_for_recall"][t] for t in fr),
        ]
        for name, r in results.items()
    ]
    cols = [
        "embedding",
        "R@1",
        "R@5",
        "R@10",
        "PSSR mean",
        "PSSR median",
        *(f"share for R={t}" for t in fr),
    ]
    parts.append(markdown_table(cols, rows))
    if trees:
        parts.append("\n### k-means search tree against exhaustive search\n")
        rows = [
            [
                name,
                t["leaf_size"],
                t["leaves"],
                t["depth"],
                t["share_searched"],
                t["recall_in_leaf"],
                t["r_at_1"],
                t["exhaustive_recall_same_share"],
                t["exhaustive_r_at_1"],
            ]
            for name, ts in trees.items()
            for t in ts
        ]
        cols = [
            "model",
            "leaf size",
            "leaves",
            "depth",
            "share searched",
            "tree recall",
            "tree R@1",
            "exhaustive recall at that share",
            "exhaustive R@1",
        ]
        parts.append(markdown_table(cols, rows))
    return "\n".join(parts)


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    write_atomic(path, buffer.getvalue())


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _plot_histograms(results: dict[str, Any], path: Path) -> None:
    """Per-query PSSR histograms, one panel per embedding (skipped without matplotlib)."""
    plt = _pyplot()
    if plt is None:
        return
    cols = min(4, len(results))
    rows = -(-len(results) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    edges = np.linspace(0, 1, 21)
    for ax, (name, r) in zip(axes.flat, results.items(), strict=False):
        counts = np.asarray(r["pssr"]["histogram"], dtype=float)
        ax.bar(edges[:-1], counts / max(counts.sum(), 1), width=0.05, align="edge")
        ax.set_title(
            f"{name}\nPSSR {r['pssr']['mean']:.3f}, R@1% cvm-net "
            f"{100 * r['r_at_1pct']['cvm-net']:.0f}%",
            fontsize=8,
        )
        ax.set_xlim(0, 1)
        ax.set_xlabel("PSSR", fontsize=8)
    for ax in list(axes.flat)[len(results) :]:
        ax.axis("off")
    fig.tight_layout()
    _save(fig, path)


def _plot_trees(trees: dict[str, Any], path: Path) -> None:
    """Recall against the share of the database searched: tree and exhaustive."""
    plt = _pyplot()
    if plt is None or not trees:
        return
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, rows in trees.items():
        share = [r["share_searched"] for r in rows]
        ax.plot(share, [r["recall_in_leaf"] for r in rows], "o-", label=f"{name} tree")
        ax.plot(
            share,
            [r["exhaustive_recall_same_share"] for r in rows],
            "x--",
            label=f"{name} exhaustive",
        )
    ax.set_xscale("log")
    ax.set_xlabel("share of the database searched")
    ax.set_ylabel("recall")
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)
