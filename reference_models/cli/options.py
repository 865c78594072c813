"""Option parsers shared by the subcommands (torch-free).

>>> parse_input_size("480x640")
(480, 640)
>>> parse_augment("jitter,flip").hflip, parse_augment("none").enabled
(True, False)
"""

from __future__ import annotations

import argparse

from reference_models.training.config import AugmentSpec
from vprmetrics.errors import InputError

__all__ = ["AUGMENTATIONS", "non_negative_int", "parse_augment", "parse_input_size", "positive_int"]

#: ``--augment`` words: colour jitter, horizontal flip, random resized crop.
AUGMENTATIONS: tuple[str, ...] = ("jitter", "flip", "crop")


def parse_input_size(text: str) -> tuple[int, int]:
    """Parse ``HxW`` (e.g. ``480x640``) into ``(480, 640)``."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise InputError(f"--input {text!r} is not HxW with positive integers: write e.g. 480x640")
    return int(parts[0]), int(parts[1])


def parse_augment(text: str) -> AugmentSpec:
    """A comma list of :data:`AUGMENTATIONS` (or ``none``) as an :class:`AugmentSpec`:
    jitter 0.4 (hue 0.1), flip, crop scale (0.7, 1.0)."""
    parts = {p.strip() for p in text.split(",") if p.strip()} - {"none"}
    if parts - set(AUGMENTATIONS):
        raise InputError(f"--augment {text!r}: use a comma list of {sorted(AUGMENTATIONS)} or none")
    jitter = 0.4 if "jitter" in parts else 0.0
    return AugmentSpec(
        brightness=jitter,
        contrast=jitter,
        saturation=jitter,
        hue=0.1 if jitter else 0.0,
        hflip="flip" in parts,
        crop_scale=(0.7, 1.0) if "crop" in parts else None,
    )


def _integer(text: str, low: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (counts and sizes: ``--batch-size 0`` is an error, not the default).

    >>> positive_int("8")
    8
    """
    return _integer(text, 1, "a positive integer (1, 2, ...)")


def non_negative_int(text: str) -> int:
    """An integer >= 0 (a seed)."""
    return _integer(text, 0, "an integer >= 0")
