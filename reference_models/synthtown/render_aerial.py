"""Aerial rendering: a north-up orthographic tile centred on a position.

Roofs, roads and markings, tree crowns, parked cars and cast shadows. Buildings and tree
crowns are looked up in a 0.5 m raster of the town (built once per town and cached);
shadows march a few steps towards the sun through the raster's height map.
"""

from __future__ import annotations

import numpy as np

from .conditions import DATABASE_CONDITION, Condition, lighting
from .ground import ground_albedo
from .noise import hash01
from .town import Town

__all__ = ["RASTER_M", "render_aerial", "town_raster"]

RASTER_M = 0.5
_SUN_TAN = {"day": 1.2, "dusk": 0.35, "night": 1e9}


def town_raster(town: Town) -> dict[str, np.ndarray]:
    """0.5 m rasters: top-surface height (m), building id and tree id (-1: none)."""
    if "raster" in town._cache:
        return town._cache["raster"]
    nx = int(np.ceil(town.width / RASTER_M))
    ny = int(np.ceil(town.height / RASTER_M))
    height = np.zeros((ny, nx), np.float32)
    bid = np.full((ny, nx), -1, np.int32)
    tid = np.full((ny, nx), -1, np.int32)
    idx = np.round(town.box / RASTER_M).astype(np.int64)
    for k, (x0, y0, x1, y1) in enumerate(idx.tolist()):
        bid[y0:y1, x0:x1] = k
        height[y0:y1, x0:x1] = town.b_height[k]
    for k, ((x, y), r) in enumerate(zip(town.tree.tolist(), town.t_crown_r.tolist(), strict=True)):
        i0, i1 = int((x - r) / RASTER_M), int((x + r) / RASTER_M) + 1
        j0, j1 = int((y - r) / RASTER_M), int((y + r) / RASTER_M) + 1
        i0, j0 = max(i0, 0), max(j0, 0)
        gx = (np.arange(i0, i1) + 0.5) * RASTER_M - x
        gy = (np.arange(j0, j1) + 0.5) * RASTER_M - y
        disc = (gx[None, :] ** 2 + gy[:, None] ** 2) <= r * r
        top = town.t_crown_z[k] + town.t_crown_hh[k]
        sub_h = height[j0:j1, i0:i1]
        disc = disc[: sub_h.shape[0], : sub_h.shape[1]] & (sub_h < top)
        tid[j0:j1, i0:i1][disc] = k
        sub_h[disc] = top
    out = {"height": height, "building": bid, "tree": tid}
    town._cache["raster"] = out
    return out


def render_aerial(
    town: Town,
    x: float,
    y: float,
    cond: Condition = DATABASE_CONDITION,
    size: int = 128,
    gsd: float = 0.75,
) -> np.ndarray:
    """Render a north-up ``size x size`` tile centred on local ``(x, y)``; ``gsd`` m/pixel."""
    lit = lighting(cond)
    ras = town_raster(town)
    hmap, bmap, tmap = ras["height"], ras["building"], ras["tree"]
    c = (np.arange(size) + 0.5 - size / 2.0) * gsd
    px = np.broadcast_to(x + c[None, :], (size, size)).ravel()
    py = np.broadcast_to(y - c[:, None], (size, size)).ravel()
    ny, nx = hmap.shape

    def sample(mx: np.ndarray, my: np.ndarray, grid: np.ndarray, fill: float) -> np.ndarray:
        ix = np.floor(mx / RASTER_M).astype(np.int64)
        iy = np.floor(my / RASTER_M).astype(np.int64)
        inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
        out = grid[np.clip(iy, 0, ny - 1), np.clip(ix, 0, nx - 1)]
        return np.where(inside, out, fill)

    col = ground_albedo(town, px, py, lit)
    b = sample(px, py, bmap, -1).astype(np.int64)
    t = sample(px, py, tmap, -1).astype(np.int64)
    h = sample(px, py, hmap, 0.0)
    on_b = (b >= 0) & (t < 0)
    if on_b.any():
        k = b[on_b]
        box = town.box[k]
        edge = np.minimum(
            np.minimum(px[on_b] - box[:, 0], box[:, 2] - px[on_b]),
            np.minimum(py[on_b] - box[:, 1], box[:, 3] - py[on_b]),
        )
        grain = hash01(
            np.floor(px[on_b]).astype(np.int64), np.floor(py[on_b]).astype(np.int64), seed=61
        )
        roof = town.b_roof[k] * (np.float32(0.9) + np.float32(0.15) * grain)[:, None]
        roof = np.where((edge < 0.6)[:, None], roof * np.float32(1.25), roof)
        if lit.snow:
            roof = roof * np.float32(0.3) + np.float32(0.65)
        col[on_b] = roof
    on_t = t >= 0
    if on_t.any():
        k = t[on_t]
        dxt = (px[on_t] - town.tree[k, 0]) / town.t_crown_r[k]
        dyt = (py[on_t] - town.tree[k, 1]) / town.t_crown_r[k]
        shade = np.clip(1.05 - 0.35 * (dxt * dxt + dyt * dyt) + 0.2 * (dyt - dxt) * 0.5, 0.4, 1.2)
        leaf = hash01(
            np.floor(px[on_t] * 2).astype(np.int64),
            np.floor(py[on_t] * 2).astype(np.int64),
            seed=62,
        )
        foliage = lit.foliage[town.t_tone[k] % lit.foliage.shape[0]]
        tone = shade.astype(np.float32) * (np.float32(0.75) + np.float32(0.4) * leaf)
        tree_col = foliage * tone[:, None]
        if lit.bare_trees:
            keep = leaf < 0.35
            tree_col = np.where(keep[:, None], tree_col, col[on_t])
        col[on_t] = tree_col
    _paint_cars(town, cond, lit, col, px, py, x, y, size, gsd)
    if cond.time != "night":
        sx, sy = lit.sun_dir
        tan_e = _SUN_TAN[cond.time]
        shadow = np.zeros(px.shape, bool)
        for step in range(1, 17):
            d = step * 1.5
            hs = sample(px + sx * d, py + sy * d, hmap, 0.0)
            shadow |= hs - h > d * tan_e
        strength = np.float32(0.45 if cond.weather == "clear" else 0.12)
        col[shadow] *= np.float32(1.0) - strength
    col = col * lit.light
    if cond.weather == "fog":
        col = col * np.float32(0.6) + lit.haze * np.float32(0.4)
    img = col.reshape(size, size, 3) * np.float32(255.0) + np.float32(0.5)
    return np.clip(img, 0.0, 255.0).astype(np.uint8)


def _paint_cars(
    town: Town,
    cond: Condition,
    lit,
    col: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    x: float,
    y: float,
    size: int,
    gsd: float,
) -> None:
    """Parked cars (the same clutter draw as the street renderer) as small rectangles."""
    from .render_street import _CAR_COLOURS, hash_idx

    half = size * gsd / 2.0 + 3.0
    s = town.car_slot
    near = np.nonzero((np.abs(s[:, 0] - x) < half) & (np.abs(s[:, 1] - y) < half))[0]
    cid = near[hash01(near, seed=1000 + cond.clutter) < lit.cars]
    if cid.size == 0:
        return
    shift = np.round((hash01(cid, seed=2000 + cond.clutter) - 0.5) * 1.2, 2)
    along = town.car_axis[cid] == 0
    cxs = s[cid, 0] + np.where(along, shift, 0.0)
    cys = s[cid, 1] + np.where(along, 0.0, shift)
    paint = _CAR_COLOURS[hash_idx(cid, 7000 + cond.clutter) % len(_CAR_COLOURS)]
    img = col.reshape(size, size, 3)
    gx = px.reshape(size, size)[0]
    gy = py.reshape(size, size)[:, 0]
    for cx, cy, al, p in zip(cxs.tolist(), cys.tolist(), along.tolist(), paint, strict=True):
        hl, hw = (2.1, 0.9) if al else (0.9, 2.1)
        cols = np.nonzero(np.abs(gx - cx) <= hl)[0]
        rows = np.nonzero(np.abs(gy - cy) <= hw)[0]
        if cols.size and rows.size:
            img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] = p
