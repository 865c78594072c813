"""Images of a ``vprmetrics`` dataset as tensors: loading, resizing, cropping, augmentation.

Pipeline of one image (``ImageSpec``):

1. decode with PIL, convert to RGB;
2. *U/B cropping* for panoramas: drop ``crop_top`` percent of the rows at the top and
   ``crop_bottom`` percent at the bottom (the Siamese seed's best setting is U20 B5:
   ``crop_top=20, crop_bottom=5``);
3. resize: to ``image_size`` (H, W), or by ``resize_percent`` of the (cropped) size, or not
   at all (the benchmark's ``--resize`` and ``--test_method`` options work on the same idea);
4. optional training augmentation with ``torchvision.transforms.v2`` on the uint8 tensor:
   colour jitter, horizontal flip, random resized crop (back to the same size);
5. float in [0, 1], normalised with the ImageNet mean and standard deviation (what the
   torchvision backbones expect).

Steps 1-3 are deterministic, so :class:`ImageStore` can cache their uint8 result in memory
(``cache=True``): small datasets (the synthetic town) are then decoded once per run.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from vprmetrics.errors import InputError

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "AugmentSpec",
    "ImageDataset",
    "ImageSpec",
    "ImageStore",
    "build_augmentation",
    "crop_top_bottom",
    "load_image",
    "normalize",
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


@dataclass(frozen=True)
class AugmentSpec:
    """Training augmentation (all off by default). Jitter values as in ``ColorJitter``."""

    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0
    hflip: bool = False
    crop_scale: tuple[float, float] | None = None  # RandomResizedCrop scale range

    @property
    def enabled(self) -> bool:
        jitter = (self.brightness, self.contrast, self.saturation, self.hue)
        return any(jitter) or self.hflip or self.crop_scale is not None


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


def build_augmentation(aug: AugmentSpec, size: tuple[int, int]) -> v2.Transform | None:
    """The ``torchvision.transforms.v2`` pipeline of ``aug`` for uint8 images of ``size``."""
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

    def __init__(self, root: str | Path, ids: Sequence[str], spec: ImageSpec, cache: bool = True):
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
        img = preprocess(load_image(self.root / self.ids[index]), self.spec)
        if self.cache:
            self._cache[index] = img
        return img

    def preload(self, indices: Sequence[int] | None = None, threads: int = 2) -> None:
        """Fill the cache (decoding in ``threads`` threads; PIL releases the GIL)."""
        if not self.cache:
            return
        todo = [i for i in (range(len(self)) if indices is None else indices)
                if i not in self._cache]
        with ThreadPoolExecutor(max(1, threads)) as pool:
            for i, img in zip(todo, pool.map(self._load, todo), strict=True):
                self._cache[i] = img

    def _load(self, index: int) -> torch.Tensor:
        return preprocess(load_image(self.root / self.ids[index]), self.spec)

    def batch(self, indices: Sequence[int], augment: v2.Transform | None = None) -> torch.Tensor:
        """Normalised float batch (B, 3, H, W); ``augment`` applies per image (training)."""
        imgs = [self.get(int(i)) for i in indices]
        if augment is not None:
            imgs = [augment(img) for img in imgs]
        return normalize(torch.stack(imgs))

    def size(self) -> tuple[int, int]:
        """(H, W) of the preprocessed images (of the first one)."""
        return tuple(self.get(0).shape[-2:])  # type: ignore[return-value]


class ImageDataset(torch.utils.data.Dataset):
    """``ImageStore`` images for a ``DataLoader``: item ``i`` -> (normalised image, index)."""

    def __init__(self, store: ImageStore, indices: Sequence[int] | None = None):
        self.store = store
        self.indices = list(range(len(store))) if indices is None else [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, int]:
        index = self.indices[item]
        return normalize(self.store.get(index)), index
