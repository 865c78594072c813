"""Datasets from the town: sampling of database and query views, in-memory and on disk.

Layout written by :func:`write_vg` (the VG-benchmark layout, read by the standard loaders)::

    <out>/synthtown/images/{train,val,test}/{database,queries}/@...@.jpg
    <out>/synthtown/manifest.json

and by :func:`write_crossview` (CVUSA-like)::

    <out>/synthtown-crossview/streetview/panos/0000001.jpg   ground panoramas (north at the centre)
    <out>/synthtown-crossview/bingmap/19/0000001.jpg         aerial tiles, north up
    <out>/synthtown-crossview/splits/train-19zl.csv, val-19zl.csv
    <out>/synthtown-crossview/positions.csv                  id, easting, northing, lat, lon

Splits are spatially disjoint strips of the town (x ranges with 50 m gaps). The database
is sampled along every street every ``db_step_m`` metres (alternating lanes) with several
headings, under :data:`~.conditions.DATABASE_CONDITION`; queries are uniform random street
positions (lane or sidewalk), random headings, camera jitter and a different condition.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image

from .conditions import DATABASE_CONDITION, Condition, sample_query_condition
from .geo import ORIGIN_EASTING, ORIGIN_NORTHING, format_vg_name, utm_to_latlon
from .render_aerial import render_aerial
from .render_street import Camera, render_street
from .town import Town, make_town

__all__ = [
    "CLASS_MAP_DIR",
    "SIZES",
    "SPLIT_X",
    "Config",
    "View",
    "generate_split",
    "render_view",
    "sample_database",
    "sample_queries",
    "save_jpeg",
    "write_crossview",
    "write_vg",
]

SPLIT_X: dict[str, tuple[float, float]] = {
    "train": (0.0, 640.0),
    "val": (690.0, 860.0),
    "test": (910.0, 1200.0),
}
#: Class maps of ``write_vg(..., class_maps=True)``: ``<root>/class_maps/<image id>.png``
#: (the image's relative path with ``.png`` for its extension), one uint8 class index per
#: pixel (:data:`reference_models.synthtown.class_maps.CLASSES`).
CLASS_MAP_DIR = "class_maps"
_MONTH = {"summer": "0615", "autumn": "1020", "winter": "0120"}
_CLOCK = {"day": "120000", "dusk": "200000", "night": "230000"}


@dataclass(frozen=True)
class Config:
    """What to generate. :data:`SIZES` holds the named presets."""

    seed: int = 0
    image_size: tuple[int, int] = (128, 256)
    db_step_m: float = 6.0
    db_headings: tuple[float, ...] = (0.0, 180.0)  # relative to the street direction
    heading_jitter: float = 5.0  # queries: +- degrees around a database heading
    queries: tuple[tuple[str, int], ...] = (("train", 1000), ("val", 100), ("test", 200))
    pano_size: tuple[int, int] = (64, 256)
    aerial_size: int = 128
    aerial_gsd: float = 0.75
    crossview_pairs: tuple[tuple[str, int], ...] = (("train", 800), ("val", 200))


SIZES: dict[str, Config] = {
    "small": Config(),
    "medium": Config(
        db_step_m=4.0,
        db_headings=(0.0, 45.0, 180.0, 225.0),
        queries=(("train", 3000), ("val", 500), ("test", 1000)),
        pano_size=(128, 512),
        aerial_size=256,
        aerial_gsd=0.4,
        crossview_pairs=(("train", 4000), ("val", 1000)),
    ),
    # CVUSA's evaluation count (8,884 pairs) at a small resolution, so that R@1% counts
    # the same 89 items (cvm-net and ceil cut-offs) as on CVUSA; the VG part is "small".
    "cvusa-count": Config(
        pano_size=(32, 128),
        aerial_size=64,
        aerial_gsd=1.5,
        crossview_pairs=(("train", 2000), ("val", 8884)),
    ),
}


@dataclass(frozen=True)
class View:
    """One image to render: a camera (or an aerial tile), a condition, an id."""

    camera: Camera
    condition: Condition
    pano_id: str
    kind: str = "street"  # street | aerial

    def file_name(self) -> str:
        """The VG file name; the note field holds the condition name."""
        c = self.condition
        stamp = f"2024{_MONTH[c.season]}_{_CLOCK[c.time]}"
        return format_vg_name(
            self.camera.x,
            self.camera.y,
            self.pano_id,
            self.camera.heading,
            self.camera.pitch,
            stamp,
            c.name,
        )


def _segments(
    town: Town, x_range: tuple[float, float]
) -> list[tuple[int, float, float, float, float]]:
    """Street segments clipped to ``x_range``: (axis, centre, a0, a1, half width)."""
    lo, hi = x_range
    out = []
    for x0, y0, x1, y1, hw in town.street_segments():
        if x0 == x1:  # vertical street
            if lo <= x0 < hi:
                out.append((1, x0, y0, y1, hw))
        else:
            a0, a1 = max(x0, lo), min(x1, hi)
            if a1 - a0 > 1.0:
                out.append((0, y0, a0, a1, hw))
    return out


def _street_heading(axis: int) -> float:
    """Compass heading of a street's direction (vertical streets run north)."""
    return 0.0 if axis == 1 else 90.0


def _point(axis: int, centre: float, along: float, lateral: float) -> tuple[float, float]:
    x, y = (centre + lateral, along) if axis == 1 else (along, centre + lateral)
    return round(x, 2), round(y, 2)


def sample_database(town: Town, split: str, cfg: Config) -> list[View]:
    """Database views of ``split``: every ``db_step_m`` along each street, all headings."""
    views: list[View] = []
    place = 0
    for axis, centre, a0, a1, hw in _segments(town, SPLIT_X[split]):
        lane = min(1.0, hw - 2.9)
        for along in np.arange(a0 + cfg.db_step_m / 2, a1, cfg.db_step_m).tolist():
            side = 1.0 if place % 2 else -1.0
            x, y = _point(axis, centre, along, side * lane)
            for rel in cfg.db_headings:
                heading = round((_street_heading(axis) + rel) % 360.0, 1)
                views.append(
                    View(
                        Camera(x, y, heading),
                        DATABASE_CONDITION,
                        f"{split[:2]}{place:06d}",
                        "street",
                    )
                )
            place += 1
    return views


def sample_queries(town: Town, split: str, n: int, cfg: Config) -> list[View]:
    """``n`` query views at random street positions of ``split`` under query conditions.

    Position: uniform along the streets of the split, in a driving lane (90%) or on a
    sidewalk (10%). Heading: one of the database headings plus up to
    ``heading_jitter`` degrees either way (like the cutouts of a query panorama). Camera
    height, pitch and field of view are jittered too.
    """
    segs = _segments(town, SPLIT_X[split])
    lengths = np.array([s[3] - s[2] for s in segs])
    cum = np.cumsum(lengths) / lengths.sum()
    rng = np.random.default_rng([cfg.seed, 7, sum(map(ord, split))])
    views = []
    for q in range(n):
        s = min(int(np.searchsorted(cum, rng.random(), side="right")), len(segs) - 1)
        axis, centre, a0, a1, hw = segs[s]
        along = a0 + (a1 - a0) * rng.random()
        if rng.random() < 0.1:  # on the sidewalk
            lateral = (hw + 1.9 + 0.6 * rng.random()) * (1 if rng.random() < 0.5 else -1)
        else:
            lateral = (2 * rng.random() - 1) * (hw - 2.9)
        x, y = _point(axis, centre, along, lateral)
        # like cutouts of a query panorama: one of the database headings, jittered
        pick = min(int(rng.random() * len(cfg.db_headings)), len(cfg.db_headings) - 1)
        base = _street_heading(axis) + cfg.db_headings[pick]
        cam = Camera(
            x,
            y,
            heading=round(base + cfg.heading_jitter * (2 * rng.random() - 1), 1) % 360.0,
            height=round(1.5 + 0.5 * rng.random(), 2),
            pitch=round(3.0 + 4.0 * rng.random(), 1),
            hfov=round(76.0 + 8.0 * rng.random(), 1),
        )
        clutter = 1 + q + 100000 * (1 + sorted(SPLIT_X).index(split))
        cond = sample_query_condition(rng, clutter=clutter)
        views.append(View(cam, cond, f"q{split[:2]}{q:05d}"))
    return views


def render_view(town: Town, view: View, size: tuple[int, int]) -> np.ndarray:
    """Render ``view`` at ``size`` (height, width); aerial views use ``size[0]`` squared."""
    if view.kind == "aerial":
        return render_aerial(
            town, view.camera.x, view.camera.y, view.condition, size[0], view.camera.hfov
        )
    return render_street(town, view.camera, view.condition, size)


def generate_split(
    split: str = "test",
    n_database: int | None = None,
    n_queries: int = 10,
    seed: int = 0,
    size: tuple[int, int] = (64, 128),
    cfg: Config | None = None,
) -> dict[str, object]:
    """Render a split in memory (for tests and notebooks).

    Returns ``database`` and ``queries`` images (uint8, ``(n, h, w, 3)``), their local
    ``*_xy`` positions (float64 metres, UTM = local + origin), ``*_names`` (VG file names),
    and the :class:`View` lists. ``n_database`` keeps the first views along the streets.
    """
    cfg = replace(cfg or Config(), seed=seed, image_size=size)
    town = make_town(seed)
    db = sample_database(town, split, cfg)[:n_database]
    qs = sample_queries(town, split, n_queries, cfg)
    out: dict[str, object] = {}
    for role, views in (("database", db), ("queries", qs)):
        out[role] = (
            np.stack([render_view(town, v, size) for v in views])
            if views
            else np.zeros((0, *size, 3), np.uint8)
        )
        out[f"{role}_xy"] = np.array([[v.camera.x, v.camera.y] for v in views], np.float64)
        out[f"{role}_names"] = [v.file_name() for v in views]
        out[f"{role}_views"] = views
    return out


def save_jpeg(img: np.ndarray, path: str | os.PathLike) -> None:
    """Write a JPEG with fixed settings (quality 95, 4:2:0, no optimisation)."""
    Image.fromarray(img).save(path, format="JPEG", quality=95, optimize=False, subsampling=2)


# ---- writing with a process pool ------------------------------------------------------

_Task = tuple[str, View, tuple[int, int]]


def _render_chunk(args: tuple[int, list[_Task]]) -> int:
    seed, tasks = args
    town = make_town(seed)
    for path, view, size in tasks:
        save_jpeg(render_view(town, view, size), path)
    return len(tasks)


def _render_chunk_classes(args: tuple[int, list[_Task], str]) -> int:
    """Like :func:`_render_chunk`, also writing each street view's class map as PNG."""
    seed, tasks, root = args
    town = make_town(seed)
    for path, view, size in tasks:
        img, classes = render_street(town, view.camera, view.condition, size, classes=True)
        save_jpeg(img, path)
        target = Path(root) / CLASS_MAP_DIR / Path(path).relative_to(root).with_suffix(".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(classes).save(target, format="PNG")
    return len(tasks)


def _chunks(tasks: list[_Task], n: int) -> Iterator[list[_Task]]:
    for i in range(0, len(tasks), n):
        yield tasks[i : i + n]


def _run(
    seed: int, tasks: list[_Task], workers: int, progress: bool, classes_root: Path | None = None
) -> None:
    render = _render_chunk if classes_root is None else _render_chunk_classes
    extra = () if classes_root is None else (str(classes_root),)
    chunks = [(seed, c, *extra) for c in _chunks(tasks, 64)]
    done = 0
    if workers <= 1:
        it = map(render, chunks)
        for n in it:
            done += n
        return
    with get_context("fork").Pool(workers) as pool:
        step = max(len(tasks) // 10, 1)
        for n in pool.imap_unordered(render, chunks):
            if progress and (done + n) // step > done // step:
                print(f"  {done + n}/{len(tasks)} images", flush=True)
            done += n


def write_vg(
    out: str | os.PathLike,
    cfg: Config,
    workers: int = 2,
    progress: bool = False,
    class_maps: bool = False,
) -> dict:
    """Write the VG-layout dataset under ``out/synthtown``; return the manifest.

    ``class_maps``: also write every image's class map under ``out/synthtown/class_maps``
    (:data:`CLASS_MAP_DIR`)."""
    town = make_town(cfg.seed)
    root = Path(out) / "synthtown"
    tasks: list[_Task] = []
    counts: dict[str, dict[str, int]] = {}
    n_queries = dict(cfg.queries)
    for split in SPLIT_X:
        views = {
            "database": sample_database(town, split, cfg),
            "queries": sample_queries(town, split, n_queries.get(split, 0), cfg),
        }
        counts[split] = {}
        for role, vs in views.items():
            folder = root / "images" / split / role
            folder.mkdir(parents=True, exist_ok=True)
            names = [v.file_name() for v in vs]
            if len(set(names)) != len(names):
                raise RuntimeError(f"duplicate file names in {split}/{role}")
            tasks += [
                (str(folder / nm), v, cfg.image_size) for nm, v in zip(names, vs, strict=True)
            ]
            counts[split][role] = len(vs)
    _run(cfg.seed, tasks, workers, progress, root if class_maps else None)
    manifest = {
        "generator": "reference_models.synthtown",
        "config": asdict(cfg),
        "counts": counts,
        "split_x_local_m": SPLIT_X,
        "origin_utm": [ORIGIN_EASTING, ORIGIN_NORTHING, "17T"],
        "database_condition": DATABASE_CONDITION.name,
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def write_crossview(
    out: str | os.PathLike, cfg: Config, workers: int = 2, progress: bool = False
) -> dict:
    """Write the CVUSA-like cross-view dataset under ``out/synthtown-crossview``.

    Pairs: a north-centred ground panorama (random street position, day, random clutter)
    and the aerial tile centred on it. ``train`` pairs come from the train strip, ``val``
    pairs (CVUSA's evaluation split) from the test strip. CSV rows are
    ``aerial_path,ground_path,ground_path`` (CVUSA's third column, a segmentation path,
    has no counterpart here and repeats the ground path).
    """
    town = make_town(cfg.seed)
    root = Path(out) / "synthtown-crossview"
    for sub in ("streetview/panos", "bingmap/19", "splits"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    tasks: list[_Task] = []
    rows_pos = ["id,easting,northing,lat,lon,split"]
    counts = {}
    ident = 0
    region = {"train": "train", "val": "test"}
    for split, n in cfg.crossview_pairs:
        qs = sample_queries(town, region[split], n, replace(cfg, seed=cfg.seed + 1000))
        lines = []
        for v in qs:
            ident += 1
            cam = Camera(v.camera.x, v.camera.y, 0.0, height=2.0, pitch=0.0, panorama=True)
            cond = Condition("day", "clear", "summer", clutter=v.condition.clutter)
            g = f"streetview/panos/{ident:07d}.jpg"
            a = f"bingmap/19/{ident:07d}.jpg"
            tasks.append((str(root / g), View(cam, cond, f"{ident:07d}"), cfg.pano_size))
            aerial_cam = Camera(v.camera.x, v.camera.y, 0.0, hfov=cfg.aerial_gsd)
            tasks.append(
                (
                    str(root / a),
                    View(aerial_cam, DATABASE_CONDITION, f"{ident:07d}", "aerial"),
                    (cfg.aerial_size, cfg.aerial_size),
                )
            )
            lines.append(f"{a},{g},{g}")
            lat, lon = utm_to_latlon(ORIGIN_EASTING + v.camera.x, ORIGIN_NORTHING + v.camera.y)
            rows_pos.append(
                f"{ident:07d},{ORIGIN_EASTING + v.camera.x:.2f},"
                f"{ORIGIN_NORTHING + v.camera.y:.2f},{lat:.6f},{lon:.6f},{split}"
            )
        (root / "splits" / f"{split}-19zl.csv").write_text("\n".join(lines) + "\n")
        counts[split] = len(qs)
    (root / "positions.csv").write_text("\n".join(rows_pos) + "\n")
    _run(cfg.seed, tasks, workers, progress)
    manifest = {"generator": "reference_models.synthtown", "config": asdict(cfg), "pairs": counts}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
