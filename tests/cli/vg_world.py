"""A tiny VG-style dataset made on the fly: places along a street, one picture per
database image and per query (a coloured facade with the place number), VG file names
``@easting@northing@...@.jpg``, a protocol TOML, and raw-pixel descriptors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

PROTOCOL = """schema = 1
name = "tinyvg"
dataset = "tiny VG test world"
split = "test"
layout = "vg"
task = "vpr"
status = "unverified"
description = "made by tests/cli/vg_world.py"

[database]
path = "images/test/database"
count = {n_db}

[queries]
path = "images/test/queries"
count = {n_q}

[ground_truth]
kind = "radius"
coordinates = "utm"
radius_m = 25.0
no_positive = "miss"

[metrics]
recall_at_n = [1, 5, 10]
recall_at_percent = [1]
recall_at_percent_convention = "ceil"
"""


def vg_name(east: float, north: float, i: int) -> str:
    return f"@{east:.2f}@{north:.2f}@17@T@@@{i:06d}@@@@@@@@.jpg"


def _picture(place: int, rng: np.random.Generator, jitter: float, size=(96, 72)):
    from PIL import Image, ImageDraw

    hue = np.array([(place * 67) % 255, (place * 131) % 255, (place * 29 + 90) % 255])
    sky = np.clip(np.array([150, 190, 230]) + rng.normal(0, 25 * jitter, 3), 0, 255)
    img = Image.new("RGB", size, tuple(int(v) for v in sky))
    draw = ImageDraw.Draw(img)
    w, h = size
    shift = int(rng.normal(0, 6 * jitter))
    draw.rectangle([10 + shift, 18, w - 10 + shift, h], fill=tuple(int(v) for v in hue))
    for k in range(place % 4 + 1):
        x = 16 + shift + 18 * k
        draw.rectangle([x, 28, x + 10, 42], fill=(250, 240, 200))
    draw.rectangle([0, h - 8, w, h], fill=(90, 90, 90))
    draw.text((w // 2 - 8 + shift, 48), f"{place}", fill=(0, 0, 0))
    return img


def _street(place: int) -> tuple[float, float]:
    """A winding street: places about 40 m apart (so only a place's own images are
    positives at 25 m)."""
    return 584000 + 40.0 * place, 4477000 + 120 * np.sin(place / 4)


def make_world(root: Path, n_places: int = 30, per_place: int = 3, n_queries: int = 24, seed=0):
    """Write the dataset under ``root`` and return ``(protocol_dir, queries, database)``."""
    rng = np.random.default_rng(seed)
    db_dir = root / "images" / "test" / "database"
    q_dir = root / "images" / "test" / "queries"
    db_dir.mkdir(parents=True)
    q_dir.mkdir(parents=True)
    database, queries = [], []
    i = 0
    for place in range(n_places):
        for _ in range(per_place):
            east, north = _street(place)
            east, north = east + rng.uniform(-5, 5), north + rng.uniform(-3, 3)
            img = _picture(place, rng, 0.3)
            img.save(db_dir / vg_name(east, north, i))
            database.append((vg_name(east, north, i), np.asarray(img)))
            i += 1
    for j, place in enumerate(rng.choice(n_places, n_queries, replace=False)):
        east, north = _street(int(place))
        east, north = east + rng.uniform(-8, 8), north + rng.uniform(-3, 3)
        img = _picture(int(place), rng, 1.6)
        img.save(q_dir / vg_name(east, north, j))
        queries.append((vg_name(east, north, j), np.asarray(img)))

    def describe(items):  # raw pixels of the sorted file list (the loader's order)
        pixels = [p for _, p in sorted(items, key=lambda t: t[0])]
        return np.stack([p[::6, ::6].reshape(-1) for p in pixels]).astype(np.float32) / 255

    protocols = root / "protocols"
    protocols.mkdir()
    text = PROTOCOL.format(n_db=len(database), n_q=len(queries))
    (protocols / "tinyvg.toml").write_text(text)
    return protocols, describe(queries), describe(database)
