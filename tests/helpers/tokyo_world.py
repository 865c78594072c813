"""A synthetic Tokyo 24/7-style dataset in the VG layout: panoramas of ``n_cut`` cutouts
on a 30 m grid (their file names carry the panorama id, VG field 7), queries 9 at a time
at random panoramas, and a submission ``S.npz`` whose cutouts and queries are noisy
copies of their panorama's descriptor. The full size is the real protocol's
(``tokyo247-netvlad``); :data:`TINY_PROTOCOL` names a few panoramas the same way."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

#: ``tokyo247-netvlad`` at any size (counts unverified): panoramas ranked by their closest cutout.
TINY_PROTOCOL = """schema = 1
name = "tinytokyo"
dataset = "a synthetic Tokyo 24/7 for the tests"
split = "test"
layout = "vg"
task = "vpr"
status = "unverified"
description = "made by tests/helpers/tokyo_world.py"

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

[loader]
database_grouping = "panorama"
"""


class Tokyo(NamedTuple):
    root: Path
    queries: np.ndarray
    database: np.ndarray
    pano: np.ndarray  # the panorama of each database row
    grid: np.ndarray  # (n_pano, 2) UTM of each panorama
    q_xy: np.ndarray  # (n_query, 2) UTM of each query


def _name(e: float, n: float, pano: str, tile: str, note: str = "") -> str:
    fields = [f"{e:.2f}", f"{n:.2f}", "54", "S", "", "", pano, tile, "", "", "", "", "", note]
    return "@" + "@".join(fields) + "@.jpg"


def make_tokyo(root: Path, n_pano: int = 6332, n_cut: int = 12, n_query: int = 315) -> Tokyo:
    """Write the file lists and ``S.npz`` under ``root`` (and ``tinytokyo.toml`` with these
    counts); ``n_query`` is a multiple of 9 and ``n_pano >= 12``."""
    rng = np.random.default_rng(0)
    grid = np.stack(np.divmod(np.arange(n_pano), 80), axis=1) * 30.0 + [380000.0, 3950000.0]
    # cutouts listed in an order that interleaves two panoramas now and then
    order = np.arange(n_pano * n_cut).reshape(n_pano, n_cut)
    order[[10, 11], n_cut // 2 :] = order[[11, 10], n_cut // 2 :]
    rows = order.ravel()
    pano = rows // n_cut
    db_names = [
        _name(*grid[p], f"{p:06d}", f"{c:02d}") for p, c in zip(pano, rows % n_cut, strict=True)
    ]
    places = rng.choice(n_pano, size=n_query // 9, replace=False)
    q_pano = np.repeat(places, 9)
    q_xy = grid[q_pano] + rng.uniform(-3, 3, size=(n_query, 2))
    q_names = [_name(*q_xy[i], "", "", f"q{i:03d}") for i in range(n_query)]
    for side, names in (("database", db_names), ("queries", q_names)):
        (root / "images" / "test" / side).mkdir(parents=True)
        (root / "images" / "test" / f"{side}_images_paths.txt").write_text("\n".join(names))
    base = rng.normal(size=(n_pano, 8)).astype(np.float32)
    database = base[pano] + 0.6 * rng.normal(size=(rows.size, 8)).astype(np.float32)
    queries = base[q_pano] + 0.6 * rng.normal(size=(n_query, 8)).astype(np.float32)
    np.savez(
        root / "S.npz",
        queries=queries,
        database=database,
        query_ids=np.array([f"images/test/queries/{n}" for n in q_names]),
        database_ids=np.array([f"images/test/database/{n}" for n in db_names]),
    )
    text = TINY_PROTOCOL.format(n_db=rows.size, n_q=n_query)
    (root / "tinytokyo.toml").write_text(text)
    return Tokyo(root, queries, database, pano, grid, q_xy)


def with_query_crops(tokyo: Tokyo, crops_per_query: int = 3) -> tuple[Path, np.ndarray]:
    """``S3.npz``: ``S.npz`` with each query as noisy crops (``query_groups``); its path
    and the crops."""
    rng = np.random.default_rng(7)
    n_query = len(tokyo.queries)
    crops = np.repeat(tokyo.queries, crops_per_query, axis=0)
    crops = (crops + 0.3 * rng.normal(size=crops.shape)).astype(np.float32)
    with np.load(tokyo.root / "S.npz") as s:
        ids = {k: s[k] for k in ("query_ids", "database_ids")}
    path = tokyo.root / "S3.npz"
    groups = np.repeat(np.arange(n_query), crops_per_query)
    np.savez(path, queries=crops, database=tokyo.database, query_groups=groups, **ids)
    return path, crops
