"""Pixel-level semantic masking of a dataset from per-pixel class maps (the Siamese study).

A class map is a single-channel PNG of the image's size holding one class index per pixel
(:data:`reference_models.synthtown.class_maps.CLASSES`: 0 sky, 1 building,
2 vegetation, 3 road, 4 vehicle, 5 person; 255 = unknown, never kept by a ``keep`` set
and never removed by a ``remove`` set). SynthTown writes them with ``generate
--class-maps`` to ``<root>/class_maps/<image path>.png``; for real data, give your own
segmentation in the same layout (``--masks DIR``: ``DIR/<image path relative to the
dataset root, extension .png>``), mapped to these six indices.

:func:`masked_copy` writes a copy of a dataset's images in which every masked pixel is set
to the ImageNet mean colour (0 after the models' normalisation), so the unchanged training
and evaluation code reads it as another dataset root. The settings of the seed paper
("Siamese Network for Place Recognition"): remove the sky, remove vegetation, keep only
sky and trees (:data:`MASK_SETTINGS`).

>>> import numpy as np
>>> img = np.full((1, 3, 3), 200, np.uint8); classes = np.array([[0, 2, 255]], np.uint8)
>>> apply_mask(img, classes, MASK_SETTINGS["remove-sky"])[0, :, 0].tolist()
[124, 200, 200]
>>> apply_mask(img, classes, MASK_SETTINGS["sky-and-trees"])[0, :, 0].tolist()
[200, 200, 124]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from reference_models.synthtown.class_maps import CLASSES
from reference_models.synthtown.dataset import CLASS_MAP_DIR
from vprmetrics.errors import InputError

__all__ = [
    "MASK_SETTINGS",
    "MaskSetting",
    "apply_mask",
    "class_map_path",
    "masked_copy",
    "read_class_map",
]

#: ImageNet mean colour as uint8 (what masked pixels become).
MEAN_RGB = np.array([124, 116, 104], np.uint8)
UNKNOWN = 255


@dataclass(frozen=True)
class MaskSetting:
    """Pixels kept: those of ``keep`` (if given), minus those of ``remove``."""

    keep: frozenset[str] | None = None
    remove: frozenset[str] = frozenset()

    def kept(self, classes: np.ndarray) -> np.ndarray:
        """Boolean map of the pixels this setting keeps."""
        index = {name: i for i, name in enumerate(CLASSES)}
        if self.keep is not None:
            keep = np.isin(classes, [index[c] for c in self.keep])
        else:
            keep = np.ones(classes.shape, bool)
        return keep & ~np.isin(classes, [index[c] for c in self.remove])


#: The seed paper's masking settings, applied on its best crop.
MASK_SETTINGS: dict[str, MaskSetting] = {
    "remove-sky": MaskSetting(remove=frozenset({"sky"})),
    "remove-vegetation": MaskSetting(remove=frozenset({"vegetation"})),
    "sky-and-trees": MaskSetting(keep=frozenset({"sky", "vegetation"})),
}


def class_map_path(masks_root: str | Path, image_id: str) -> Path:
    """``masks_root/<image_id with extension .png>`` (ids are relative, checked paths)."""
    rel = Path(image_id)
    if rel.is_absolute() or ".." in rel.parts:
        raise InputError(f"image id {image_id!r} must be a relative path inside the dataset")
    return Path(masks_root) / rel.with_suffix(".png")


def read_class_map(path: str | Path, size: tuple[int, int]) -> np.ndarray:
    """The (H, W) uint8 class map at ``path``; ``size`` = (W, H) of its image, checked
    from the header before any pixel is decoded."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"class map {path} is missing: write SynthTown with --class-maps, or give "
            "--masks DIR holding one PNG per image"
        )
    with Image.open(path) as img:
        if img.size != tuple(size):
            raise InputError(
                f"class map {path} is {img.size[0]}x{img.size[1]}, its image "
                f"{size[0]}x{size[1]}: give a map of the image's size"
            )
        if img.mode not in ("L", "P"):
            raise InputError(f"class map {path} has mode {img.mode}: save one channel (mode L)")
        classes = np.asarray(img, dtype=np.uint8)
    bad = (classes >= len(CLASSES)) & (classes != UNKNOWN)
    if bad.any():
        raise InputError(
            f"class map {path} holds value {int(classes[bad][0])}: use 0-{len(CLASSES) - 1} "
            f"({', '.join(CLASSES)}) or 255 for unknown"
        )
    return classes


def apply_mask(img: np.ndarray, classes: np.ndarray, setting: MaskSetting) -> np.ndarray:
    """``img`` (H, W, 3) uint8 with the pixels ``setting`` drops set to the mean colour."""
    out = img.copy()
    out[~setting.kept(classes)] = MEAN_RGB
    return out


def masked_copy(
    root: str | Path,
    image_ids: Iterable[str],
    out: str | Path,
    setting: MaskSetting,
    masks_root: str | Path | None = None,
) -> Path:
    """Write the ``image_ids`` of ``root`` masked by ``setting`` under ``out`` (same relative
    paths, JPEG quality 95); class maps from ``masks_root`` (default
    ``root/class_maps``). Images already written are kept (a rerun resumes). Returns
    ``out``."""
    root, out = Path(root), Path(out)
    masks = Path(masks_root) if masks_root is not None else root / CLASS_MAP_DIR
    for image_id in image_ids:
        target = out / image_id
        if target.is_file():
            continue
        with Image.open(root / image_id) as im:
            img = np.asarray(im.convert("RGB"))
        classes = read_class_map(class_map_path(masks, image_id), (img.shape[1], img.shape[0]))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        Image.fromarray(apply_mask(img, classes, setting)).save(tmp, format="JPEG", quality=95)
        tmp.replace(target)
    return out
