"""Images of a ``vprmetrics`` dataset as tensors: loading, cropping, resizing, normalising.

Pipeline of one image (``ImageSpec``):

1. decode with PIL, convert to RGB;
2. *U/B cropping* for panoramas: drop ``crop_top`` percent of the rows at the top and
   ``crop_bottom`` percent at the bottom (the Siamese seed's best setting is U20 B5:
   ``crop_top=20, crop_bottom=5``);
3. resize: to ``image_size`` (H, W), or by ``resize_percent`` of the (cropped) size, or not
   at all (the benchmark's ``--resize`` and ``--test_method`` options work on the same idea);
4. during training only, augmentation of the uint8 tensor
   (:func:`reference_models.training.augment.build_augmentation`);
5. float in [0, 1], normalised with the ImageNet mean and standard deviation (what the
   torchvision backbones expect).

Steps 1-3 are deterministic, so :class:`ImageStore` can cache their uint8 result in memory
(``cache=True``): small datasets (the synthetic town) are then decoded once per run.

>>> target_size(ImageSpec(resize_percent=50), 100, 40)
(50, 20)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from vprmetrics.errors import InputError

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ImageSpec",
    "ImageStore",
    "crop_top_bottom",
    "load_image",
    "normalize",
    "preprocess",
    "target_size",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ImageSpec:
    """Deterministic preprocessing: U/B crop (percent) then resize (size or percent)."""

    image_size: tuple[int, int] | None = None
    resize_percent: float | None = None
    crop_top: float = 0.0
    crop_bottom: float = 0.0

    def __post_init__(self) -> None:
        if self.image_size is not None and self.resize_percent is not None:
            raise InputError("give image_size or resize_percent, not both")
        if self.resize_percent is not None and not 0 < self.resize_percent <= 1000:
            raise InputError(f"resize_percent {self.resize_percent} must be in (0, 1000]")
        if not (0 <= self.crop_top < 100 and 0 <= self.crop_bottom < 100):
            raise InputError("crop_top and crop_bottom are percentages in [0, 100)")
        if self.crop_top + self.crop_bottom >= 100:
            raise InputError("crop_top + crop_bottom must stay below 100 percent")


def load_image(path: str | Path) -> Image.Image:
    """Decode one image file as RGB."""
    with Image.open(path) as img:
        return img.convert("RGB")


def crop_top_bottom(img: Image.Image, top: float, bottom: float) -> Image.Image:
    """Drop ``top`` percent of the rows at the top and ``bottom`` percent at the bottom.

    Rows kept: ``[round(H * top / 100), H - round(H * bottom / 100))``.
    """
    if not top and not bottom:
        return img
    w, h = img.size
    y0, y1 = round(h * top / 100), h - round(h * bottom / 100)
    return img.crop((0, y0, w, y1))


def target_size(spec: ImageSpec, height: int, width: int) -> tuple[int, int]:
    """The (H, W) an image of ``height`` x ``width`` (after cropping) is resized to."""
    if spec.image_size is not None:
        return spec.image_size
    if spec.resize_percent is not None:
        scale = spec.resize_percent / 100
        return max(1, round(height * scale)), max(1, round(width * scale))
    return height, width


def preprocess(img: Image.Image, spec: ImageSpec) -> torch.Tensor:
    """Steps 2-3 of the pipeline: uint8 tensor (3, H, W)."""
    img = crop_top_bottom(img, spec.crop_top, spec.crop_bottom)
    h, w = target_size(spec, img.height, img.width)
    if (h, w) != (img.height, img.width):
        img = img.resize((w, h), Image.Resampling.BILINEAR, reducing_gap=None)
    return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (..., 3, H, W) -> float32 normalised with the ImageNet statistics."""
    return TF.normalize(images.to(torch.float32) / 255.0, IMAGENET_MEAN, IMAGENET_STD)


class ImageStore:
    """The images of one side of a dataset (ids relative to ``root``), preprocessed.

    Args:
        root: the dataset root.
        ids: relative image paths in protocol order.
        spec: the deterministic preprocessing.
        cache: keep every preprocessed uint8 image in memory after its first load.
    """

    def __init__(
        self, root: str | Path, ids: Sequence[str] | np.ndarray, spec: ImageSpec, cache: bool = True
    ):
        self.root = Path(root)
        self.ids = [str(i) for i in ids]
        self.spec = spec
        self.cache = cache
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, index: int) -> torch.Tensor:
        """Preprocessed uint8 image ``index`` (3, H, W)."""
        hit = self._cache.get(index)
        if hit is not None:
            return hit
        img = self._load(index)
        if self.cache:
            self._cache[index] = img
        return img

    def preload(self, indices: Sequence[int] | None = None, threads: int = 2) -> None:
        """Fill the cache (decoding in ``threads`` threads; PIL releases the GIL)."""
        if not self.cache:
            return
        todo = [
            i for i in (range(len(self)) if indices is None else indices) if i not in self._cache
        ]
        with ThreadPoolExecutor(max(1, threads)) as pool:
            for i, img in zip(todo, pool.map(self._load, todo), strict=True):
                self._cache[i] = img

    def _load(self, index: int) -> torch.Tensor:
        return preprocess(load_image(self.root / self.ids[index]), self.spec)

    def batch(
        self,
        indices: Sequence[int] | np.ndarray,
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Normalised float batch (B, 3, H, W); ``augment`` applies per image (training)."""
        imgs = [self.get(int(i)) for i in indices]
        if augment is not None:
            imgs = [augment(img) for img in imgs]
        return normalize(torch.stack(imgs))

    def size(self) -> tuple[int, int]:
        """(H, W) of the preprocessed images (of the first one)."""
        return tuple(self.get(0).shape[-2:])  # type: ignore[return-value]
