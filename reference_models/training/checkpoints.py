"""The files of a run folder: checkpoints, RNG states and JSON records, written atomically.

A checkpoint holds only tensors, numbers, strings and plain containers of them (the
configuration and the history as JSON strings, the sampler's generator state as a JSON
string), so it is read back with ``torch.load(..., weights_only=True)``
(:func:`reference_models.models.weights.load_tensors`) and reading one never runs code.
Every file goes through :func:`vprmetrics.files.write_atomic`: a run stopped at any moment
leaves the previous ``last.pt`` or ``log.json``, never half of a new one.

``last.pt`` holds ``model``, ``optimizer``, ``scaler`` (empty without mixed precision),
``epoch``, ``best_r5``, ``best_epoch``, ``bad_epochs``, ``history``, ``config`` and
``rng`` (:func:`rng_state`); ``best.pt`` holds ``model``, ``epoch`` and ``config``.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any, Protocol

import torch

from reference_models.models.weights import load_tensors
from vprmetrics.files import write_atomic

__all__ = [
    "Stateful",
    "load_checkpoint",
    "restore_rng_state",
    "rng_state",
    "save_checkpoint",
    "write_json",
]


class Stateful(Protocol):
    """A sampler whose random state is checkpointed (``weights_only``-safe values)."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` with ``torch.save`` to ``path`` atomically."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomic(path, buffer.getvalue())


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (never unpickles code)."""
    return load_tensors(path, map_location)


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode())


def rng_state(sampler: Stateful) -> dict[str, Any]:
    """The torch, Python (and CUDA) generator states and the sampler's own state."""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": json.dumps(random.getstate()),
        "miner": sampler.state_dict(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any], sampler: Stateful) -> None:
    """Inverse of :func:`rng_state`: the next draws repeat those after the save."""
    torch.set_rng_state(state["torch"])
    py = json.loads(state["python"])
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    sampler.load_state_dict(state["miner"])
