"""Pixel masks from class maps: which pixels each setting keeps, untrusted map files."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from reference_models.studies.masking import (
    MASK_SETTINGS,
    MEAN_RGB,
    apply_mask,
    class_map_path,
    masked_copy,
    read_class_map,
)
from vprmetrics.errors import InputError

SKY, BUILDING, VEGETATION = 0, 1, 2


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from([0, 1, 2, 3, 4, 5, 255]), min_size=1, max_size=30))
def test_settings_keep_exactly_their_classes(values):
    classes = np.array([values], np.uint8)
    img = np.full((1, len(values), 3), 7, np.uint8)
    c = classes[0]
    expected = {
        "remove-sky": c != SKY,
        "remove-vegetation": c != VEGETATION,
        "sky-and-trees": (c == SKY) | (c == VEGETATION),
    }
    for name, keep in expected.items():
        out = apply_mask(img, classes, MASK_SETTINGS[name])[0]
        assert (out[keep] == 7).all()
        assert (out[~keep] == MEAN_RGB).all()


def test_class_map_path_stays_inside():
    assert class_map_path("m", "images/a.jpg").as_posix() == "m/images/a.png"
    with pytest.raises(InputError, match="relative"):
        class_map_path("m", "../x.jpg")
    with pytest.raises(InputError, match="relative"):
        class_map_path("m", "/etc/x.jpg")


def test_read_class_map_checks_size_mode_and_values(tmp_path):
    good = tmp_path / "a.png"
    Image.fromarray(np.zeros((4, 6), np.uint8)).save(good)
    assert read_class_map(good, (6, 4)).shape == (4, 6)
    with pytest.raises(InputError, match="image's size"):
        read_class_map(good, (6, 5))
    bad = tmp_path / "b.png"
    Image.fromarray(np.full((4, 6), 9, np.uint8)).save(bad)
    with pytest.raises(InputError, match="holds value 9"):
        read_class_map(bad, (6, 4))
    rgb = tmp_path / "c.png"
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(rgb)
    with pytest.raises(InputError, match="one channel"):
        read_class_map(rgb, (6, 4))
    with pytest.raises(InputError, match="--masks"):
        read_class_map(tmp_path / "missing.png", (6, 4))


def test_masked_copy_uses_a_users_mask_folder(tmp_path):
    root, masks, out = tmp_path / "data", tmp_path / "masks", tmp_path / "out"
    (root / "images").mkdir(parents=True)
    (masks / "images").mkdir(parents=True)
    Image.fromarray(np.full((8, 8, 3), 250, np.uint8)).save(root / "images" / "a.jpg", quality=95)
    classes = np.full((8, 8), BUILDING, np.uint8)
    classes[:4] = SKY
    Image.fromarray(classes).save(masks / "images" / "a.png")
    masked_copy(root, ["images/a.jpg"], out, MASK_SETTINGS["remove-sky"], masks)
    img = np.asarray(Image.open(out / "images" / "a.jpg")).astype(int)
    assert np.abs(img[:3] - MEAN_RGB).mean() < 4 and img[5:].mean() > 240
