"""Describing images with a model, and scoring a split through the ``vprmetrics`` engine.

:func:`describe_images` runs ``model.embed`` in eval mode over an
:class:`~reference_models.images.ImageStore` in batches and returns float32 descriptors;
:func:`evaluate_split` describes a dataset's database and queries and returns Recall@N of
L2 retrieval, computed by :func:`vprmetrics.ranking.engine.rank` and
:func:`vprmetrics.metrics.recall.recall_at_n` under the protocol's ground truth and
no-positive rule (the numbers ``vprmetrics evaluate`` gives for the exported submission).
On CUDA with ``amp`` the forward pass runs under float16 autocast; descriptors come back as
float32 on the CPU either way.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypedDict, TypeVar, cast

import numpy as np
import torch
from torch import nn

from reference_models.images import ImageStore
from reference_models.models.embedder import Embedder
from vprmetrics.errors import InputError
from vprmetrics.metrics.recall import recall_at_n
from vprmetrics.ranking.engine import rank

__all__ = [
    "DescribeOptions",
    "autocast",
    "describe_images",
    "evaluate_split",
    "progress_bar",
    "resolve_amp",
    "resolve_device",
]

T = TypeVar("T")


def resolve_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA when available, else CPU; otherwise the named device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r} requested but CUDA is not available: use --device cpu")
    return dev


def resolve_amp(amp: bool | None, device: torch.device) -> bool:
    """Mixed precision on CUDA only: ``None`` means on for CUDA."""
    return device.type == "cuda" if amp is None else bool(amp and device.type == "cuda")


def autocast(device: torch.device, amp: bool) -> AbstractContextManager:
    """float16 autocast on ``device`` when ``amp``, else a no-op context."""
    return torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp)


def progress_bar(iterable: Iterable[T], total: int | None, desc: str, enabled: bool) -> Iterable[T]:
    """``iterable`` with progress on stderr when ``enabled``: a tqdm bar on a terminal (when
    tqdm is installed), else one plain line per tenth of ``total`` (so a logged run is not
    silent for minutes)."""
    if not enabled:
        return iterable
    if sys.stderr.isatty():
        try:
            from tqdm.auto import tqdm
        except ImportError:  # tqdm is optional
            return _progress_lines(iterable, total, desc)
        return tqdm(iterable, total=total, desc=desc, leave=False, file=sys.stderr)
    return _progress_lines(iterable, total, desc)


def _progress_lines(iterable: Iterable[T], total: int | None, desc: str) -> Iterator[T]:
    """Yield from ``iterable``, printing ``desc: i/total (p%), s elapsed`` every tenth."""
    every = max(1, (total or 0) // 10) if total else 50
    start = time.perf_counter()
    for i, item in enumerate(iterable, 1):
        yield item
        if i % every == 0 or i == total:
            share = f"/{total} ({100 * i / total:.0f}%)" if total else ""
            elapsed = time.perf_counter() - start
            print(f"{desc}: {i}{share}, {elapsed:.0f} s", file=sys.stderr, flush=True)


class DescribeOptions(TypedDict, total=False):
    """Keyword options of :func:`describe_images` that several of its calls share."""

    batch_size: int
    device: torch.device | str
    amp: bool
    progress: bool


@torch.no_grad()
def describe_images(
    model: nn.Module,
    store: ImageStore,
    indices: Sequence[int] | np.ndarray | None = None,
    *,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    amp: bool = False,
    progress: bool = False,
    desc: str = "describing",
) -> np.ndarray:
    """float32 descriptors ``model.embed`` gives the ``indices`` images of ``store``.

    The model runs in eval mode (its mode is restored afterwards).
    """
    device = torch.device(device)
    idx = np.arange(len(store)) if indices is None else np.asarray(indices, dtype=np.int64)
    was_training = model.training
    model.eval()
    out = []
    try:
        starts = range(0, len(idx), batch_size)
        for s in progress_bar(starts, len(starts), desc, progress):
            images = store.batch(idx[s : s + batch_size]).to(device, non_blocking=True)
            with autocast(device, amp):
                out.append(cast(Embedder, model).embed(images).float().cpu())
    finally:
        model.train(was_training)
    dim = int(getattr(model, "descriptor_dim", 0))
    return torch.cat(out).numpy() if out else np.zeros((0, dim), np.float32)


def evaluate_split(
    model: nn.Module,
    dataset: Any,
    db_store: ImageStore,
    q_store: ImageStore,
    *,
    recall_at: Sequence[int] = (1, 5, 10),
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    amp: bool = False,
    progress: bool = False,
) -> dict[int, float]:
    """Recall@N of ``model`` on ``dataset`` (a loaded ``vprmetrics`` dataset) with L2."""
    kw = DescribeOptions(batch_size=batch_size, device=device, amp=amp, progress=progress)
    db = describe_images(model, db_store, desc="val database", **kw)
    q = describe_images(model, q_store, desc="val queries", **kw)
    k = min(max(recall_at), dataset.n_database)
    facts = rank(q, db, dataset.ground_truth(), metric="l2", k=k, progress=False)
    return recall_at_n(facts, list(recall_at), no_positive=dataset.protocol.no_positive)
