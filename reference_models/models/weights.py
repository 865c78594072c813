"""Local weight files: read with ``torch.load(..., weights_only=True)``, never downloaded.

``weights_only=True`` restricts unpickling to tensors, numbers, strings and the plain
containers holding them, so a file can never run code when it is read. Every weight file
and checkpoint of ``reference_models`` is read through :func:`load_tensors`, which turns
every way a stranger's file can fail (a pickle with code in it, a truncated or empty file,
text, a folder) into one :class:`~vprmetrics.errors.InputError` line.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from vprmetrics.errors import InputError

__all__ = ["load_tensors"]


def load_tensors(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """The content of the torch file ``path`` (tensors and plain containers only)."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise InputError(
            f"weights file {str(path)!r} {what}; give a .pt file written by torch.save"
        )
    try:
        with warnings.catch_warnings():  # a stranger's pickle protocol is not worth a warning
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:  # weights_only refused an object: never run it
        raise InputError(
            f"{path} holds Python objects, which are never unpickled; save plain tensors "
            "(torch.save(model.state_dict(), path))"
        ) from err
    except Exception as err:  # the restricted unpickler raises any type on junk
        reason = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        raise InputError(
            f"{path} is not a readable torch weights file ({reason}); give a file written by "
            "torch.save"
        ) from err
