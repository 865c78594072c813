"""SynthTown: determinism, geometry, conditions, file names and the dataset writer."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path

import numpy as np
import pytest

from reference_models.synthtown import (
    DATABASE_CONDITION,
    Camera,
    Condition,
    generate_split,
    make_town,
    render_aerial,
    render_street,
)
from reference_models.synthtown.dataset import (
    SIZES,
    SPLIT_X,
    render_view,
    sample_database,
    sample_queries,
    save_jpeg,
    write_crossview,
    write_vg,
)
from reference_models.synthtown.geo import (
    ORIGIN_EASTING,
    ORIGIN_NORTHING,
    format_vg_name,
    parse_vg_name,
    utm_to_latlon,
)

SIZE = (64, 128)


@pytest.fixture(scope="module")
def town():
    return make_town(0)


def _street_point(town, i: int = 4, y: float = 300.0) -> tuple[float, float]:
    return round(float(town.vx[i]) - 1.0, 2), y


def test_same_seed_same_bytes(town, tmp_path: Path) -> None:
    x, y = _street_point(town)
    cond = Condition("night", "fog", "winter", clutter=3)
    a = render_street(town, Camera(x, y, 33.3), cond, SIZE)
    b = render_street(make_town(0), Camera(x, y, 33.3), cond, SIZE)
    assert a.dtype == np.uint8 and a.shape == (*SIZE, 3)
    assert np.array_equal(a, b)
    save_jpeg(a, tmp_path / "a.jpg")
    save_jpeg(b, tmp_path / "b.jpg")
    assert (tmp_path / "a.jpg").read_bytes() == (tmp_path / "b.jpg").read_bytes()
    pano = Camera(x, y, 0.0, pitch=0.0, panorama=True)
    assert np.array_equal(
        render_street(town, pano, size=SIZE), render_street(town, pano, size=SIZE)
    )
    assert np.array_equal(render_aerial(town, x, y, size=64), render_aerial(town, x, y, size=64))


def test_other_seed_other_town() -> None:
    a, b = make_town(0), make_town(1)
    assert a.n_buildings != b.n_buildings or not np.array_equal(a.box, b.box)


def test_near_views_are_more_alike_than_far_views(town) -> None:
    """The same place 3 m away is closer in pixel space than a place 200 m away."""
    wins = 0
    trials = 0
    for i in (2, 4, 6, 8):
        x, y0 = _street_point(town, i, 150.0)
        for heading in (0.0, 180.0):
            ref = render_street(town, Camera(x, y0, heading), size=SIZE).astype(np.float64)
            near = render_street(town, Camera(x, y0 + 3.0, heading), size=SIZE)
            far = render_street(town, Camera(x, y0 + 200.0, heading), size=SIZE)
            d_near = np.mean((ref - near) ** 2)
            d_far = np.mean((ref - far) ** 2)
            wins += d_near < d_far
            trials += 1
    assert wins == trials


def test_views_overlap_geometrically(town) -> None:
    """Moving 3 m forward down a street keeps the far part of the image nearly the same."""
    x, y = _street_point(town, 5, 200.0)
    a = render_street(town, Camera(x, y, 0.0), size=(128, 256)).astype(np.float64)
    b = render_street(town, Camera(x, y + 3.0, 0.0), size=(128, 256)).astype(np.float64)
    centre = (slice(40, 80), slice(108, 148))  # around the vanishing point
    assert np.mean(np.abs(a[centre] - b[centre])) < np.mean(np.abs(a - b))


@pytest.mark.parametrize(
    "change",
    [
        {"time": "dusk"},
        {"time": "night"},
        {"weather": "overcast"},
        {"weather": "fog"},
        {"season": "autumn"},
        {"season": "winter"},
        {"clutter": 7},
    ],
)
def test_every_condition_changes_pixels(town, change: dict) -> None:
    # a view up a vertical street with a street tree 8 m ahead (so foliage is in view)
    i = next(
        k
        for k, (tx, _) in enumerate(town.tree.tolist())
        if np.min(np.abs(np.abs(tx - town.vx) - (town.v_half + 1.3))) < 0.01
    )
    street = int(np.argmin(np.abs(town.vx - town.tree[i, 0])))
    cam = Camera(float(town.vx[street]), round(float(town.tree[i, 1]) - 8.0, 2), 0.0)
    base = render_street(town, cam, DATABASE_CONDITION, SIZE)
    other = render_street(town, cam, dataclasses.replace(DATABASE_CONDITION, **change), SIZE)
    changed = np.mean(np.any(base != other, axis=-1))
    assert changed > 0.02, f"{change} changed only {changed:.1%} of the pixels"


def test_jitter_changes_pixels(town) -> None:
    x, y = _street_point(town, 3, 250.0)
    base = render_street(town, Camera(x, y, 0.0), size=SIZE)
    for cam in (Camera(x, y, 5.0), Camera(x, y, 0.0, height=2.0), Camera(x, y, 0.0, pitch=2.0)):
        assert np.any(render_street(town, cam, size=SIZE) != base)


def test_unknown_condition_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown time"):
        Condition("noon")


def test_file_names_hold_the_render_positions(town) -> None:
    cfg = SIZES["small"]
    views = sample_database(town, "test", cfg)[:50] + sample_queries(town, "test", 50, cfg)
    for v in views:
        f = parse_vg_name(v.file_name())
        assert abs(f.easting - ORIGIN_EASTING - v.camera.x) < 1e-6
        assert abs(f.northing - ORIGIN_NORTHING - v.camera.y) < 1e-6
        assert (f.zone, f.letter) == (17, "T")
        assert f.heading == int(v.camera.heading // 1) % 360
        assert f.note == v.condition.name
        lat, lon = utm_to_latlon(f.easting, f.northing)
        assert abs(lat - f.lat) <= 5e-6 and abs(lon - f.lon) <= 5e-6
        lo, hi = SPLIT_X["test"]
        assert lo - 10 <= v.camera.x <= hi + 10


def test_vg_name_has_16_fields() -> None:
    name = format_vg_name(12.34, 56.78, "p1", 359.9, 5, "20240615_120000", "day-clear-summer")
    fields = name.split("@")
    assert len(fields) == 16 and fields[0] == "" and fields[-1] == ".jpg"
    assert fields[1] == "0584012.34" and fields[2] == "4477056.78" and fields[9] == "359"
    assert len(fields[5]) == 9 and len(fields[6]) == 10


def test_splits_are_spatially_disjoint(town) -> None:
    cfg = SIZES["small"]
    xs = {s: np.array([v.camera.x for v in sample_database(town, s, cfg)]) for s in SPLIT_X}
    assert xs["train"].max() + 25 < xs["val"].min()
    assert xs["val"].max() + 25 < xs["test"].min()


def test_most_queries_have_a_database_image_within_25m(town) -> None:
    cfg = SIZES["small"]
    db = np.array([[v.camera.x, v.camera.y] for v in sample_database(town, "test", cfg)])
    qs = np.array([[v.camera.x, v.camera.y] for v in sample_queries(town, "test", 200, cfg)])
    nearest = np.sqrt(((qs[:, None, :] - db[None, :, :]) ** 2).sum(-1)).min(axis=1)
    assert np.mean(nearest <= 25.0) > 0.95


def test_in_memory_generation_is_fast() -> None:
    generate_split("val", n_database=2, n_queries=1)  # warm the town cache
    t0 = time.perf_counter()
    d = generate_split("val", n_database=24, n_queries=12, size=SIZE)
    elapsed = time.perf_counter() - t0
    assert d["database"].shape == (24, *SIZE, 3) and d["queries"].shape == (12, *SIZE, 3)
    assert len(d["queries_names"]) == 12 and d["queries_xy"].shape == (12, 2)
    assert elapsed < 1.0, f"36 images took {elapsed:.2f} s"


def test_writer_produces_the_vg_and_crossview_layouts(tmp_path: Path) -> None:
    cfg = dataclasses.replace(
        SIZES["small"],
        image_size=(32, 64),
        db_step_m=60.0,
        queries=(("test", 3),),
        pano_size=(32, 128),
        aerial_size=32,
        crossview_pairs=(("train", 2), ("val", 2)),
    )
    m = write_vg(tmp_path, cfg, workers=1)
    root = tmp_path / "synthtown"
    for split in ("train", "val", "test"):
        for role in ("database", "queries"):
            files = sorted((root / "images" / split / role).glob("*.jpg"))
            assert len(files) == m["counts"][split][role]
            for f in files[:3]:
                assert len(f.name.split("@")) == 16
    assert m["counts"]["test"]["queries"] == 3 and m["counts"]["test"]["database"] > 0
    assert (root / "manifest.json").is_file()
    write_crossview(tmp_path, cfg, workers=1)
    cv = tmp_path / "synthtown-crossview"
    rows = (cv / "splits" / "val-19zl.csv").read_text().split()
    assert len(rows) == 2
    for row in rows:
        aerial, ground, _ = row.split(",")
        assert (cv / aerial).is_file() and (cv / ground).is_file()


def test_written_image_matches_in_memory_render(tmp_path: Path, town) -> None:
    v = sample_queries(town, "val", 1, SIZES["small"])[0]
    img = render_view(town, v, SIZE)
    save_jpeg(img, tmp_path / "q.jpg")
    from PIL import Image

    back = np.asarray(Image.open(tmp_path / "q.jpg"))
    assert back.shape == img.shape
    assert np.mean(np.abs(back.astype(int) - img.astype(int))) < 6
    assert (
        hashlib.sha256(img.tobytes()).hexdigest()
        == hashlib.sha256(render_view(town, v, SIZE).tobytes()).hexdigest()
    )


def test_package_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, reference_models.synthtown.__main__, reference_models.synthtown; "
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
