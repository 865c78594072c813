"""What the studies share: the training settings of each scale, a cell's training run, and
scoring a trained model on a test set through ``vprmetrics``.

* :func:`scale_options`: the :class:`~reference_models.training.config.TrainConfig`
  options of ``--scale`` ``tiny`` (a few steps on 32x48 images, for tests), ``small``
  (the ``cpu-quick`` recipe cut to 2 epochs x 50 steps: minutes per cell on a CPU) and
  ``full`` (the benchmark's settings: 480x640, Adam 1e-5, 5,000 queries per epoch, early
  stopping after 3 epochs without an R@5 gain, for a GPU).
* :func:`cell_config`: a cell's run folder ``<out>/runs/<cell>``, ``--threads`` torch
  threads on a CPU, ``resume`` on (an interrupted cell continues after its last finished
  epoch).
* :func:`score`: describe the test database and queries with the run's best model and score
  them with :func:`vprmetrics.report.evaluation.evaluate` (L2, the protocol's ground truth
  and no-positive rule, expected ties): Recall@1/5/10/20, the top-1 geographic error
  histogram, and the per-image extraction time. ``scored_by`` records the function.

>>> scale_options("tiny")["image_size"], scale_options("small")["epochs"]
((32, 48), 2)
>>> names = ["q/@1@2@@@@@q1@@@@@@@night-fog-winter@.jpg", "q/@1@2@@@@@q2@@@@@@@day@.jpg"]
>>> condition_subset(names, ("night",)).tolist()
[0]
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reference_models.training.config import PRESETS, TrainConfig
from vprmetrics.errors import InputError
from vprmetrics.files import write_atomic
from vprmetrics.report.evaluation import EvaluationSettings

__all__ = [
    "RECALL_AT",
    "SCORED_BY",
    "add_protocol_arguments",
    "bar_plot",
    "cell_config",
    "condition_subset",
    "load_best",
    "open_test",
    "save_figure",
    "scale_options",
    "score",
    "setup_threads",
]

#: The benchmark's Recall@N cut-offs (the defaults of ``vprmetrics`` evaluations).
RECALL_AT: tuple[int, ...] = tuple(EvaluationSettings.recall_at)
#: The function every test-set number of a study comes from.
SCORED_BY = "vprmetrics.report.evaluation.evaluate"

_TINY: dict[str, Any] = dict(
    epochs=1,
    queries_per_epoch=4,
    cache_refresh=4,
    batch_size=2,
    negatives_per_query=2,
    negative_sample_size=8,
    mining="partial",
    lr=1e-4,
    image_size=(32, 48),
    infer_batch_size=16,
    netvlad_init_images=20,
    netvlad_init_per_image=6,
    patience=1,
)
_SMALL: dict[str, Any] = {
    **PRESETS["cpu-quick"],
    "epochs": 2,
    "queries_per_epoch": 800,
    "patience": 2,
}
_FULL: dict[str, Any] = {**PRESETS["benchmark"], "epochs": 50}


def scale_options(scale: str) -> dict[str, Any]:
    """The training options of ``scale`` (a fresh dict)."""
    options = {"tiny": _TINY, "small": _SMALL, "full": _FULL}
    if scale not in options:
        raise InputError(f"unknown scale {scale!r}: choose one of {tuple(options)}")
    return dict(options[scale])


def add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    """``--protocol`` (default ``synthtown``): the test split; train and val are siblings."""
    parser.add_argument(
        "--protocol",
        default="synthtown",
        help="protocol of the test split; training uses its train/val siblings (synthtown)",
    )


def setup_threads(args: argparse.Namespace) -> None:
    """``--threads`` torch threads on a CPU (without it, torch's default: one per core)."""
    import torch

    from reference_models.inference import resolve_device

    if args.threads and resolve_device(args.device).type == "cpu":
        torch.set_num_threads(args.threads)


def cell_config(args: argparse.Namespace, cell: str, **options: Any) -> TrainConfig:
    """The TrainConfig of one cell: scale options, then ``options``; run folder
    ``<out>/runs/<cell>``."""
    values = {
        **scale_options(args.scale),
        "protocol": args.protocol,
        "dataset_root": str(args.dataset_root),
        "out": str(Path(args.out) / "runs" / cell),
        "device": args.device,
        "progress": False,
        "resume": True,
        "seed": 0,
        "threads": args.threads,
    }
    values.update(options)
    return TrainConfig(**values)


def load_best(cfg: TrainConfig, run_dir: str | Path) -> Any:
    """The model of ``cfg`` with the weights of ``run_dir/best.pt``, in eval mode."""
    from reference_models.models.registry import build_model
    from reference_models.training.checkpoints import load_checkpoint

    model = build_model(cfg.model)
    model.load_state_dict(load_checkpoint(Path(run_dir) / "best.pt")["model"])
    return model.eval()


def condition_subset(query_ids: Sequence[str], words: Sequence[str]) -> np.ndarray:
    """Indices of the queries whose condition (the note field, 15th of the VG name)
    holds any of ``words`` (SynthTown: ``night-fog-winter``)."""
    picks = []
    for i, qid in enumerate(query_ids):
        fields = Path(str(qid)).name.split("@")
        note = fields[14] if len(fields) > 14 else ""
        if any(w in note.split("-") for w in words):
            picks.append(i)
    return np.asarray(picks, dtype=np.int64)


def score(
    model: Any,
    cfg: TrainConfig,
    dataset: Any,
    *,
    query_subset: np.ndarray | None = None,
    descriptors: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Test-set numbers of ``model`` on ``dataset`` through :data:`SCORED_BY`.

    ``query_subset`` keeps only those queries (their ground truth rows). Returns
    ``recall`` (N -> R@N), ``geo_error_m`` (the report's top-1 error histogram),
    ``descriptor_dim``, ``ms_per_image`` (describing the queries) and ``scored_by``;
    ``descriptors``, when given, receives the ``database`` and ``queries`` arrays.
    """
    import torch

    from reference_models.images import ImageSpec, ImageStore
    from reference_models.inference import describe_images, resolve_amp, resolve_device
    from vprmetrics.report import evaluation

    device = resolve_device(cfg.device)
    amp = resolve_amp(cfg.amp, device)
    spec = ImageSpec(cfg.image_size, cfg.resize_percent, cfg.crop_top, cfg.crop_bottom)
    q_ids = np.arange(dataset.n_queries) if query_subset is None else query_subset
    if q_ids.size == 0:
        raise InputError("no queries to score: the query subset is empty")
    db_store = ImageStore(dataset.root, dataset.database_ids, spec)
    q_store = ImageStore(dataset.root, [dataset.query_ids[i] for i in q_ids], spec)
    kw: dict[str, Any] = dict(batch_size=cfg.infer_batch_size, device=device, amp=amp)
    model = model.to(device)
    db = describe_images(model, db_store, **kw)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    q = describe_images(model, q_store, **kw)
    if device.type == "cuda":
        torch.cuda.synchronize()
    ms = 1000.0 * (time.perf_counter() - start) / len(q_store)
    if descriptors is not None:
        descriptors.update(database=db, queries=q)
    positives = dataset.ground_truth()
    if query_subset is not None:
        positives = positives.subset(q_ids)
    ns = [n for n in RECALL_AT if n <= dataset.n_database]
    has_coords = dataset.query_coords is not None and dataset.database_coords is not None
    ev = evaluation.evaluate(
        q,
        db,
        positives,
        query_coords=dataset.query_coords[q_ids] if has_coords else None,
        database_coords=dataset.database_coords if has_coords else None,
        recall_at=ns,
        map_at=ns,
        no_positive=dataset.protocol.no_positive,
        n_resamples=200,
    )
    report = ev.report
    return {
        "recall": {k: float(v) for k, v in report["recall_at_n"].items()},
        "recall_ci": report["confidence_intervals"]["recall_at_n"],
        "geo_error_m": report.get("geo_error_m"),
        "n_queries": int(report["n_queries"]),
        "n_database": int(report["n_database"]),
        "descriptor_dim": int(q.shape[1]),
        "ms_per_image": round(ms, 3),
        "scored_by": SCORED_BY,
    }


def open_test(cfg: TrainConfig, protocol: str | None = None, root: str | None = None) -> Any:
    """The protocol's own (test) split."""
    from reference_models.training.splits import open_split

    return open_split(protocol or cfg.protocol, root or cfg.dataset_root)


def bar_plot(
    path: str | Path,
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    title: str,
    ylabel: str = "recall",
) -> None:
    """Grouped bars (one group per label, one bar per series) as a PNG; skipped without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(labels) + 2), 3.5))
    width = 0.8 / max(1, len(series))
    x = np.arange(len(labels))
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x + i * width - 0.4 + width / 2, values, width, label=name)
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def save_figure(fig: Any, path: str | Path) -> None:
    """Write a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    write_atomic(Path(path), buffer.getvalue())
