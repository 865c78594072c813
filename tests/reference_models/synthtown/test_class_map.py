"""SynthTown's per-pixel class maps: the renderer's option and the dataset writer's."""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from reference_models.synthtown.class_maps import CLASSES
from reference_models.synthtown.conditions import Condition
from reference_models.synthtown.dataset import CLASS_MAP_DIR, Config, sample_database, write_vg
from reference_models.synthtown.render_street import Camera, render_street
from reference_models.synthtown.town import make_town

SKY, BUILDING, VEGETATION, ROAD, VEHICLE, PERSON = range(6)


def test_class_names_in_index_order():
    assert CLASSES == ("sky", "building", "vegetation", "road", "vehicle", "person")


def test_class_map_leaves_the_image_unchanged_and_follows_the_geometry():
    town = make_town(0)
    views = sample_database(town, "test", Config())
    seen = np.zeros(6, int)
    for view in views[:40:4]:
        plain = render_street(town, view.camera, view.condition, (48, 96))
        img, classes = render_street(town, view.camera, view.condition, (48, 96), classes=True)
        assert np.array_equal(img, plain)
        assert classes.shape == (48, 96) and classes.dtype == np.uint8
        assert classes.max() < len(CLASSES)
        assert not (classes[-1] == SKY).any()  # the bottom row is never sky
        assert not (classes[0] == ROAD).any()  # the top row is never ground
        seen += np.bincount(classes.ravel(), minlength=6)
    assert (seen[[SKY, BUILDING, VEGETATION, ROAD]] > 0).all()


def test_sky_pixels_are_sky_coloured_and_night_keeps_the_geometry():
    town = make_town(0)
    view = sample_database(town, "test", Config())[3]
    img, day = render_street(town, view.camera, view.condition, (48, 96), classes=True)
    sky = day == SKY
    assert sky.any()
    assert img[sky][:, 2].mean() > img[sky][:, 0].mean()  # blue-ish by day
    night = dataclasses.replace(view.condition, time="night")
    _, at_night = render_street(town, view.camera, night, (48, 96), classes=True)
    assert np.array_equal(day, at_night)


def test_an_empty_field_is_all_sky_above_and_road_below():
    town = make_town(0)
    cam = Camera(x=-500.0, y=-500.0, heading=225.0)  # far outside the town, looking away
    _, classes = render_street(
        town, cam, Condition("day", "clear", "summer", 0), (32, 64), classes=True
    )
    assert set(np.unique(classes)) == {SKY, ROAD}
    assert (classes[0] == SKY).all() and (classes[-1] == ROAD).all()


def test_writer_saves_one_class_map_per_image(tmp_path):
    cfg = Config(
        image_size=(32, 64), db_step_m=150.0, queries=(("train", 2), ("val", 1), ("test", 1))
    )
    write_vg(tmp_path, cfg, workers=1, class_maps=True)
    root = tmp_path / "synthtown"
    images = sorted((root / "images").rglob("*.jpg"))
    maps = sorted((root / CLASS_MAP_DIR).rglob("*.png"))
    assert images and len(maps) == len(images)
    for path in images[:5]:
        target = root / CLASS_MAP_DIR / path.relative_to(root).with_suffix(".png")
        with Image.open(target) as m:
            assert m.mode == "L" and m.size == (64, 32)
            assert np.asarray(m).max() < len(CLASSES)
