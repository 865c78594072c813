"""Training augmentation of uint8 images."""

import pytest

torch = pytest.importorskip("torch")

from reference_models.training.augment import build_augmentation  # noqa: E402
from reference_models.training.config import AugmentSpec  # noqa: E402


def test_augmentation_keeps_size_and_dtype():
    image = torch.randint(0, 256, (3, 16, 32), dtype=torch.uint8)
    aug = build_augmentation(AugmentSpec(0.4, 0.4, 0.4, 0.1, True, (0.7, 1.0)), (16, 32))
    out = aug(image)
    assert tuple(out.shape) == (3, 16, 32) and out.dtype == torch.uint8
    assert build_augmentation(AugmentSpec(), (16, 32)) is None
    flip = build_augmentation(AugmentSpec(hflip=True), (16, 32))
    assert len(flip.transforms) == 1
