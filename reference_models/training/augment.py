"""Training augmentation of the preprocessed uint8 images (``torchvision.transforms.v2``).

In this order, each only when :class:`~reference_models.training.config.AugmentSpec` asks
for it: random resized crop back to the same size (``crop_scale``), horizontal flip
(``hflip``), colour jitter (``brightness``, ``contrast``, ``saturation``, ``hue`` as in
``ColorJitter``). The result is normalised like any other image
(:func:`reference_models.images.normalize`).
"""

from __future__ import annotations

from torchvision.transforms import v2

from reference_models.training.config import AugmentSpec

__all__ = ["build_augmentation"]


def build_augmentation(aug: AugmentSpec, size: tuple[int, int]) -> v2.Transform | None:
    """The pipeline of ``aug`` for uint8 images of ``size`` (H, W); None when all is off."""
    if not aug.enabled:
        return None
    steps: list[v2.Transform] = []
    if aug.crop_scale is not None:
        steps.append(v2.RandomResizedCrop(size, scale=aug.crop_scale, antialias=True))
    if aug.hflip:
        steps.append(v2.RandomHorizontalFlip())
    if any((aug.brightness, aug.contrast, aug.saturation, aug.hue)):
        steps.append(v2.ColorJitter(aug.brightness, aug.contrast, aug.saturation, aug.hue))
    return v2.Compose(steps)
