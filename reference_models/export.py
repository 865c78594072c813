"""A trained run -> submission ``.npz`` (and a TorchScript extractor).

:func:`export_submission` describes the database and query images of a protocol (its own
split, in protocol order) with the run's model and writes the submission format of
:mod:`vprmetrics.data.submission`: float32 ``queries`` and ``database`` plus the unicode
``query_ids`` and ``database_ids`` (paths relative to the dataset root), so
``vprmetrics evaluate --submission S.npz`` scores it without glue code.

A cross-view model (``task="cross_view"``) describes the protocol's database with its
aerial branch at the run's ``aerial_size`` and the queries with its ground branch (the other
way round for ``query_direction = "aerial-to-ground"``).

:func:`export_torchscript` saves the descriptor extractor traced with TorchScript (one file
per branch for a cross-view model, :func:`branch_paths`). The
traced module takes float images in [0, 1], shape (N, 3, H, W) at the run's image size, and
applies the ImageNet normalisation itself; it returns the (N, D) descriptors. Load it with
``torch.jit.load`` (torch 2.9+ marks TorchScript deprecated in favour of ``torch.export``;
it still works in torch 2.14).
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from reference_models.images import IMAGENET_MEAN, IMAGENET_STD, ImageSpec, ImageStore
from reference_models.inference import (
    DescribeOptions,
    describe_images,
    resolve_amp,
    resolve_device,
)
from reference_models.models.crossview import VIEWS, BranchView
from reference_models.models.embedder import Embedder
from reference_models.models.registry import build_model, get_spec
from reference_models.training.checkpoints import load_checkpoint
from reference_models.training.config import TrainConfig
from vprmetrics.data.loaders import load_dataset
from vprmetrics.data.protocol import load_protocol
from vprmetrics.errors import InputError
from vprmetrics.files import check_targets, commit_files

__all__ = ["branch_paths", "export_submission", "export_torchscript", "load_run_model"]


def _run_config(run_dir: str | Path) -> TrainConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise InputError(f"{run_dir} is not a training run (no config.json); check --run")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise TypeError(f"a {type(data).__name__}, not an object")
        return TrainConfig.from_json(data)
    except (ValueError, TypeError) as err:  # JSON, UTF-8 and option errors alike
        reason = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
        raise InputError(
            f"{path} is not a valid run configuration ({reason}); re-run training or restore "
            "the file"
        ) from err


def load_run_model(
    run_dir: str | Path, checkpoint: str = "best", device: str = "cpu"
) -> tuple[nn.Module, TrainConfig]:
    """(model in eval mode, TrainConfig) of a run; ``checkpoint`` is ``best``, ``last`` or a
    path. Weights are read with ``torch.load(..., weights_only=True)``."""
    cfg = _run_config(run_dir)
    path = Path(checkpoint)
    if checkpoint in ("best", "last"):
        path = Path(run_dir) / f"{checkpoint}.pt"
    if not path.is_file():
        raise InputError(f"checkpoint {str(path)!r} does not exist; train first or pick another")
    dev = resolve_device(device)
    model = build_model(cfg.model)
    state = load_checkpoint(path)
    try:
        model.load_state_dict(state["model"])
    except (KeyError, TypeError, RuntimeError) as err:
        raise InputError(
            f"checkpoint {path} does not hold the weights of {cfg.model!r} "
            f"({str(err).splitlines()[0][:120]}); export the run that wrote it"
        ) from err
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
    check_targets([out_path])
    data, summary = render_submission(
        run_dir, protocol, dataset_root, checkpoint=checkpoint, device=device,
        batch_size=batch_size, progress=progress,
    )  # fmt: skip
    commit_files([(out_path, data)])
    return {"path": str(out_path), **summary}


def render_submission(
    run_dir: str | Path,
    protocol: str,
    dataset_root: str | Path,
    *,
    checkpoint: str = "best",
    device: str = "auto",
    batch_size: int | None = None,
    progress: bool = False,
) -> tuple[bytes, dict[str, Any]]:
    """The submission ``.npz`` bytes of ``protocol`` and its summary, nothing written (so a
    caller can commit it together with other outputs: :func:`vprmetrics.files.commit_files`)."""
    model, cfg = load_run_model(run_dir, checkpoint, device)
    dev = resolve_device(device)
    amp = resolve_amp(cfg.amp, dev)
    dataset = load_dataset(load_protocol(protocol), dataset_root)
    root = dataset.root
    assert root is not None  # load_dataset always reads a folder
    spec = ImageSpec(cfg.image_size, cfg.resize_percent, cfg.crop_top, cfg.crop_bottom)
    if batch_size is not None and (isinstance(batch_size, bool) or int(batch_size) < 1):
        raise InputError(f"batch_size = {batch_size!r} must be a positive integer")
    size = cfg.infer_batch_size if batch_size is None else int(batch_size)
    db_model, q_model, db_spec = model, model, spec
    if get_spec(cfg.model).task == "cross_view":
        db_view, q_view = _crossview_sides(dataset.protocol)
        db_model, q_model = BranchView(model, db_view), BranchView(model, q_view)
        aerial = ImageSpec(cfg.aerial_size)
        db_spec, spec = (aerial, spec) if db_view == "aerial" else (spec, aerial)
    kw = DescribeOptions(batch_size=size, device=dev, amp=amp, progress=progress)
    db = describe_images(
        db_model,
        ImageStore(root, dataset.database_ids, db_spec, cache=False),
        desc="database",
        **kw,
    )
    q = describe_images(
        q_model,
        ImageStore(root, dataset.query_ids, spec, cache=False),
        desc="queries",
        **kw,
    )
    buffer = io.BytesIO()
    np.savez(
        buffer,
        queries=q.astype(np.float32),
        database=db.astype(np.float32),
        query_ids=np.asarray(dataset.query_ids, dtype=str),
        database_ids=np.asarray(dataset.database_ids, dtype=str),
    )
    return buffer.getvalue(), {
        "protocol": dataset.protocol.name,
        "queries": int(q.shape[0]),
        "database": int(db.shape[0]),
        "dim": int(db.shape[1]),
        "model": cfg.model,
        "task": get_spec(cfg.model).task,
    }


def _crossview_sides(protocol: Any) -> tuple[str, str]:
    """(database view, query view) of a cross-view protocol: ground queries against the
    aerial database, or the other way for ``query_direction = "aerial-to-ground"``."""
    if protocol.layout != "cvusa":
        raise InputError(
            f"a cross-view model needs a cross-view protocol, not {protocol.name!r}: "
            "e.g. --protocol synthtown-crossview"
        )
    if protocol.query_direction == "aerial-to-ground":
        return "ground", "aerial"
    return "aerial", "ground"


def branch_paths(out_path: str | Path) -> dict[str, Path]:
    """Where :func:`export_torchscript` writes each branch of a cross-view model:
    ``x.pt`` -> ``x.ground.pt`` and ``x.aerial.pt``."""
    out = Path(out_path)
    return {view: out.with_name(f"{out.stem}.{view}{out.suffix or '.pt'}") for view in VIEWS}


class _Extractor(nn.Module):
    """``inner.embed`` of images in [0, 1], ImageNet normalisation included."""

    mean: torch.Tensor  # buffers
    std: torch.Tensor

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return cast(Embedder, self.inner).embed((images - self.mean) / self.std)


def export_torchscript(
    run_dir: str | Path,
    out_path: str | Path,
    *,
    checkpoint: str = "best",
    input_size: tuple[int, int] | None = None,
) -> Path:
    """Trace the run's descriptor extractor (normalisation included) and save it.

    A cross-view model gets one file per branch (:func:`branch_paths`), each at its view's
    size (``input_size`` sets the ground size); the first path is returned."""
    files = render_torchscript(run_dir, out_path, checkpoint=checkpoint, input_size=input_size)
    commit_files(files)
    return files[0][0]


def render_torchscript(
    run_dir: str | Path,
    out_path: str | Path,
    *,
    checkpoint: str = "best",
    input_size: tuple[int, int] | None = None,
) -> list[tuple[Path, bytes]]:
    """The ``(path, bytes)`` of every TorchScript file :func:`export_torchscript` writes."""
    model, cfg = load_run_model(run_dir, checkpoint, "cpu")
    size = input_size or cfg.image_size
    if size is None:
        raise InputError("the run keeps the files' image size: give --input-size HxW")
    if get_spec(cfg.model).task != "cross_view":
        return [(Path(out_path), _trace(model, size))]
    if cfg.aerial_size is None:
        raise InputError("the cross-view run has no aerial_size: it cannot be traced")
    sizes = {"ground": size, "aerial": cfg.aerial_size}
    return [(p, _trace(BranchView(model, v), sizes[v])) for v, p in branch_paths(out_path).items()]


def _trace(model: nn.Module, size: tuple[int, int]) -> bytes:
    extractor = _Extractor(model).eval()
    example = torch.rand(2, 3, *size)
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch >= 2.9 marks jit deprecated
        traced = torch.jit.trace(extractor, example, check_trace=False)
        torch.jit.save(traced, buffer)
    return buffer.getvalue()
