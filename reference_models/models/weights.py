"""Local weight files: read with ``torch.load(..., weights_only=True)``, never downloaded.

``weights_only=True`` restricts unpickling to tensors, numbers, strings and the plain
containers holding them, so a file can never run code when it is read. Every weight file
and checkpoint of ``reference_models`` is read through :func:`load_tensors`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

__all__ = ["load_tensors"]


def load_tensors(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """The content of the torch file ``path`` (tensors and plain containers only)."""
    return torch.load(Path(path), map_location=map_location, weights_only=True)
