"""``python -m reference_models export``: a trained run -> submission ``.npz`` (and TorchScript).

:func:`export_submission` describes the database and query images of a protocol (its own
split, in protocol order) with the run's model and writes the submission format of
:mod:`vprmetrics.submission`: float32 ``queries`` and ``database`` plus the unicode
``query_ids`` and ``database_ids`` (paths relative to the dataset root), so
``vprmetrics evaluate --submission S.npz`` scores it without glue code.

:func:`export_torchscript` saves the descriptor extractor traced with TorchScript. The
traced module takes float images in [0, 1], shape (N, 3, H, W) at the run's image size, and
applies the ImageNet normalisation itself; it returns the (N, D) descriptors. Load it with
``torch.jit.load`` (torch 2.9+ marks TorchScript deprecated in favour of ``torch.export``;
it still works in torch 2.14).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path
from typing import Any

from vprmetrics.errors import InputError
from vprmetrics.files import save_npz_atomic

__all__ = ["add_parser", "export_submission", "export_torchscript", "load_run_model", "run"]


def _run_config(run_dir: str | Path):
    from reference_models.training import TrainConfig

    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise InputError(f"{run_dir} is not a training run (no config.json); check --run")
    return TrainConfig.from_json(json.loads(path.read_text()))


def load_run_model(run_dir: str | Path, checkpoint: str = "best", device: str = "cpu"):
    """(model in eval mode, TrainConfig) of a run; ``checkpoint`` is ``best``, ``last`` or a
    path. Weights are read with ``torch.load(..., weights_only=True)``."""
    from reference_models.models import build_model
    from reference_models.training import load_checkpoint, resolve_device

    cfg = _run_config(run_dir)
    path = Path(checkpoint)
    if checkpoint in ("best", "last"):
        path = Path(run_dir) / f"{checkpoint}.pt"
    if not path.is_file():
        raise InputError(f"checkpoint {str(path)!r} does not exist; train first or pick another")
    dev = resolve_device(device)
    model = build_model(cfg.model)
    model.load_state_dict(load_checkpoint(path)["model"])
    model.to(dev).eval()
    return model, cfg


def export_submission(
    run_dir: str | Path,
    protocol: str,
    dataset_root: str | Path,
    out_path: str | Path,
    *,
    checkpoint: str = "best",
    device: str = "auto",
    batch_size: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Write the submission ``.npz`` of ``protocol`` (its split, protocol order) and return
    a summary (counts, descriptor dim, path)."""
    import numpy as np

    from reference_models.data import ImageSpec, ImageStore
    from reference_models.training import describe_images, resolve_device
    from vprmetrics.loaders import load_dataset
    from vprmetrics.protocol import load_protocol

    model, cfg = load_run_model(run_dir, checkpoint, device)
    dev = resolve_device(device)
    amp = dev.type == "cuda" if cfg.amp is None else bool(cfg.amp and dev.type == "cuda")
    dataset = load_dataset(load_protocol(protocol), dataset_root)
    spec = ImageSpec(cfg.image_size, cfg.resize_percent, cfg.crop_top, cfg.crop_bottom)
    kw = dict(batch_size=batch_size or cfg.infer_batch_size, device=dev, amp=amp, progress=progress)
    db = describe_images(
        model,
        ImageStore(dataset.root, dataset.database_ids, spec, cache=False),
        desc="database",
        **kw,
    )
    q = describe_images(
        model, ImageStore(dataset.root, dataset.query_ids, spec, cache=False), desc="queries", **kw
    )
    out = Path(out_path)
    save_npz_atomic(
        out,
        queries=q.astype(np.float32),
        database=db.astype(np.float32),
        query_ids=np.asarray(dataset.query_ids, dtype=str),
        database_ids=np.asarray(dataset.database_ids, dtype=str),
    )
    return {
        "path": str(out),
        "protocol": dataset.protocol.name,
        "queries": int(q.shape[0]),
        "database": int(db.shape[0]),
        "dim": int(db.shape[1]),
        "model": cfg.model,
    }


def export_torchscript(
    run_dir: str | Path,
    out_path: str | Path,
    *,
    checkpoint: str = "best",
    input_size: tuple[int, int] | None = None,
) -> Path:
    """Trace the run's descriptor extractor (normalisation included) and save it."""
    import torch
    from torch import nn

    from reference_models.data import IMAGENET_MEAN, IMAGENET_STD

    model, cfg = load_run_model(run_dir, checkpoint, "cpu")
    size = input_size or cfg.image_size
    if size is None:
        raise InputError("the run keeps the files' image size: give --input-size HxW")

    class Extractor(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner
            self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return self.inner.embed((images - self.mean) / self.std)

    extractor = Extractor(model).eval()
    example = torch.rand(2, 3, *size)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch >= 2.9 marks jit deprecated
        traced = torch.jit.trace(extractor, example, check_trace=False)
        traced.save(str(out))
    return out


def run(args: argparse.Namespace) -> int:
    """CLI entry: export the submission (and the TorchScript extractor when asked)."""
    from vprmetrics.errors import require

    require("torch", "models", "exporting reference-model descriptors")
    summary = export_submission(
        args.run,
        args.protocol,
        args.dataset_root,
        args.out,
        checkpoint=args.checkpoint,
        device=args.device,
        batch_size=args.batch_size,
        progress=not args.quiet,
    )
    if args.torchscript:
        from reference_models.describe import parse_input_size

        size = parse_input_size(args.input_size) if args.input_size else None
        summary["torchscript"] = str(
            export_torchscript(
                args.run, args.torchscript, checkpoint=args.checkpoint, input_size=size
            )
        )
    print(json.dumps(summary))
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``export`` subcommand (torch is imported only when it runs)."""
    parser = subparsers.add_parser(
        "export",
        help="describe a protocol's images with a trained run: submission .npz (+ TorchScript)",
        description="Write the descriptors of a protocol's database and queries, in protocol "
        "order with their ids, in the vprmetrics submission format.",
    )
    parser.add_argument("--run", required=True, help="training run folder (from train --out)")
    parser.add_argument("--protocol", required=True, help="protocol name, e.g. synthtown")
    parser.add_argument("--dataset-root", required=True, help="dataset folder")
    parser.add_argument("--out", required=True, help="submission file to write (.npz)")
    parser.add_argument("--checkpoint", default="best", help="best (default), last or a path")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    parser.add_argument("--batch-size", type=int, help="images per forward pass")
    parser.add_argument("--torchscript", metavar="PATH", help="also save a traced extractor")
    parser.add_argument("--input-size", help="HxW for the traced extractor (default: the run's)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)
    return parser
