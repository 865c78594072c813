"""Image preprocessing: U/B crop, resize, normalisation, the caching store."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from PIL import Image  # noqa: E402

from reference_models.images import (  # noqa: E402
    IMAGENET_MEAN,
    ImageSpec,
    ImageStore,
    crop_top_bottom,
    normalize,
    preprocess,
)
from vprmetrics.errors import InputError  # noqa: E402


def test_preprocessing_crop_and_resize():
    pixels = np.arange(100 * 40 * 3, dtype=np.uint32).reshape(100, 40, 3).astype(np.uint8)
    img = Image.fromarray(pixels)
    assert crop_top_bottom(img, 20, 5).size == (40, 75)  # U20 B5
    assert tuple(preprocess(img, ImageSpec(resize_percent=50)).shape) == (3, 50, 20)
    out = preprocess(img, ImageSpec((16, 32), crop_top=20, crop_bottom=5))
    assert tuple(out.shape) == (3, 16, 32) and out.dtype == torch.uint8
    assert torch.equal(preprocess(img, ImageSpec()), torch.from_numpy(pixels).permute(2, 0, 1))


def test_spec_checks():
    with pytest.raises(InputError, match="not both"):
        ImageSpec((16, 32), resize_percent=50)
    with pytest.raises(InputError, match="below 100"):
        ImageSpec(crop_top=60, crop_bottom=40)


def test_store_caches_and_normalises(tmp_path):
    Image.fromarray(np.full((8, 12, 3), 124, np.uint8)).save(tmp_path / "a.png")
    store = ImageStore(tmp_path, ["a.png"], ImageSpec((4, 6)))
    store.preload(threads=1)
    assert store.get(0) is store.get(0) and store.size() == (4, 6)
    batch = store.batch([0, 0])
    assert tuple(batch.shape) == (2, 3, 4, 6)
    torch.testing.assert_close(batch, normalize(torch.stack([store.get(0)] * 2)))
    expected = (124 / 255 - IMAGENET_MEAN[0]) / 0.229
    assert batch[0, 0, 0, 0].item() == pytest.approx(expected, abs=1e-6)
    assert ImageStore(tmp_path, ["a.png"], ImageSpec(), cache=False).get(0) is not store.get(0)
