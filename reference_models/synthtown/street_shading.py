"""Shading of street views: facade colours, windows and street lamps, and the finishing
noise, for :func:`reference_models.synthtown.render_street.render_street`.

Every value comes from hashes of integer keys (:mod:`.noise`), so a facade looks the same
from every camera and renders are bit-reproducible.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from .conditions import Condition, Lighting
from .noise import hash01, hash_u32
from .town import Town

if TYPE_CHECKING:
    from .render_street import Camera

__all__ = ["facade_columns", "facade_pixels", "finish", "hash_idx", "lamp_pools", "noise_table"]

_LAMP_RANGE_M = 70.0


@lru_cache(maxsize=1)
def noise_table() -> np.ndarray:
    """65,536 uniform values; texture noise reads ``table[column_key * 256 + row_key]``."""
    return hash01(np.arange(65536), seed=123)


def hash_idx(keys: np.ndarray, seed: int) -> np.ndarray:
    """Non-negative int64 from integer keys (for palette lookups)."""
    return (hash01(keys, seed=seed) * np.float32(1 << 20)).astype(np.int64)


def lamp_pools(town: Town, gx: np.ndarray, gy: np.ndarray, cx: float, cy: float) -> np.ndarray:
    """Warm light pools under street lamps (added at dusk and night)."""
    lamps = town.lamp
    lx, ly = lamps[:, 0] - cx, lamps[:, 1] - cy
    near = lamps[(lx * lx + ly * ly) < _LAMP_RANGE_M**2]
    acc = np.zeros(gx.shape, np.float32)
    for x0, y0 in near.tolist():
        ddx = gx - x0
        ddy = gy - y0
        d2 = ddx * ddx + ddy * ddy
        acc += np.maximum(np.float32(0.0), np.float32(1.0) - (d2 * (1.0 / 49.0)).astype(np.float32))
    return np.minimum(acc, 1.0)[:, None] * np.array([1.0, 0.78, 0.45], np.float32)


def facade_columns(
    town: Town,
    lit: Lighting,
    k: np.ndarray,
    u_abs: np.ndarray,
    xface: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
) -> dict[str, np.ndarray]:
    """Facade quantities that depend only on the column (per layer and column).

    ``k``: building per (layer, column); ``u_abs``: world coordinate of the hit along the
    facade; ``xface``: the hit face is perpendicular to x. Returns arrays of shape
    ``k.shape`` (or ``k.shape + (3,)`` for colours).
    """
    f32 = np.float32
    u = (u_abs - np.where(xface, town.box[k, 1], town.box[k, 0])).astype(f32)
    wdx = town.b_win_dx[k]
    cell = np.floor(u / wdx)
    wu = np.abs(u - cell * wdx - wdx * f32(0.5))
    hcol = hash_u32(k, cell.astype(np.int64), seed=41)
    shop = town.b_shop[k]
    style = town.b_style[k]
    sx, sy = lit.sun_dir
    ncos = np.where(xface, -np.sign(dx)[None, :] * sx, -np.sign(dy)[None, :] * sy)
    shade = f32(1.0 - lit.sun_contrast) + f32(1.6 * lit.sun_contrast) * np.maximum(ncos, 0.0)
    return {
        "base": town.b_colour[k] * (shade.astype(f32)[..., None] * lit.light),
        "sign": town.b_sign[k] * lit.light,
        "sign_glow": town.b_sign[k] * f32(0.8),
        "bh": town.b_height[k].astype(f32),
        "fh": town.b_floor[k],
        "win_h": town.b_win_h[k],
        "in_col": wu < town.b_win_w[k] * f32(0.5),
        "curtain": (style == 2) & (wu < wdx * f32(0.5) - f32(0.12)),
        "brick": style == 1,
        "shop": shop,
        "shop_col": shop & (wu < wdx * f32(0.5) - f32(0.25)),
        "door_col": ~shop & ((hcol >> np.uint32(28)) < 3) & (wu < f32(0.55)),
        "g1": (hcol & np.uint32(0xFFFF)).astype(f32) * f32(1.0 / 65536.0),
        "g2": ((hcol >> np.uint32(16)) & np.uint32(0xFFF)).astype(f32) * f32(1.0 / 4096.0),
        "gk": (
            hash_u32(np.floor(u * f32(3.0)).astype(np.int64), k, seed=31) & np.uint32(255)
        ).astype(np.int64)
        * 256,
    }


def facade_pixels(lit: Lighting, t: dict[str, np.ndarray], v: np.ndarray) -> np.ndarray:
    """Lit facade colour per pixel from its column quantities ``t`` and height ``v`` (m).

    Floors of height ``fh``; shops have a glazed ground floor and a coloured sign band,
    other buildings get doors in some window columns. Windows reflect the sky by day; at
    dusk and night a share of them is lit (decided per window from the column hash and
    the floor number).
    """
    f32 = np.float32
    fh, bh = t["fh"], t["bh"]
    fl = np.floor(v / fh)
    fv = v - fl * fh
    ground = fl == 0
    below_roof = v < bh - f32(0.9)
    grain = noise_table()[t["gk"] + (np.floor(v * f32(3.0)).astype(np.int64) & 255)]
    tex = f32(0.93) + f32(0.12) * grain
    tex = np.where(t["brick"] & (fv < f32(0.35)), tex * f32(0.72), tex)
    tex = np.where(v > bh - f32(0.45), tex * f32(0.7), tex)  # cornice
    col = t["base"] * tex[:, None]
    shop_g = t["shop"] & ground
    door = t["door_col"] & ground & (v < f32(2.2))
    glass = (
        t["in_col"]
        & (fv > f32(0.9))
        & (fv < f32(0.9) + t["win_h"])
        & below_roof
        & ~shop_g
        & ~(t["door_col"] & ground)
    )
    glass |= t["curtain"] & ~ground & below_roof & (fv > f32(0.25))
    shop_win = t["shop_col"] & ground & (v > f32(0.5)) & (v < f32(2.5))
    glass |= shop_win
    sign = shop_g & (v > f32(2.6)) & (v < fh - f32(0.1))
    col[sign] = t["sign"][sign]
    wid = np.modf(t["g1"] + fl * f32(0.618034))[0]
    glass_base = (np.array([0.16, 0.2, 0.26], f32) + f32(0.25) * lit.sky_horizon) * lit.light
    col[glass] = glass_base + (f32(0.12) * wid[glass])[:, None] * lit.light
    col[door] = np.array([0.25, 0.17, 0.12], f32) * lit.light
    if lit.lit_windows > 0:
        on = (glass & (np.modf(t["g2"] + fl * f32(0.7548777))[0] < f32(lit.lit_windows))) | shop_win
        col[on] = np.array([1.0, 0.82, 0.5], f32) * (f32(0.6) + f32(0.4) * wid[on])[:, None]
        col[sign] = np.maximum(col[sign], t["sign_glow"][sign])
    return col


def finish(
    img: np.ndarray, depth: np.ndarray, lit: Lighting, cam: Camera, cond: Condition
) -> np.ndarray:
    """Haze or fog by distance, sensor noise, quantisation to uint8."""
    a = depth / (depth + np.float32(lit.haze_m))  # sky has depth 0: no haze added
    img = img * (1 - a)[..., None] + lit.haze * a[..., None]
    if lit.noise > 0:
        h, w = depth.shape
        tile = _noise_tile(h, w)
        key = int(
            hash_u32(round(cam.x * 100), round(cam.y * 100), round(cam.heading * 10), cond.clutter)[
                0
            ]
        )
        oy, ox = key % h, (key >> 16) % w
        img = img + tile[oy : oy + h, ox : ox + w, None] * np.float32(lit.noise * 2)
    img *= np.float32(255.0)
    img += np.float32(0.5)
    np.clip(img, 0.0, 255.0, out=img)
    return img.astype(np.uint8)  # truncation of non-negative values = floor


@lru_cache(maxsize=8)
def _noise_tile(h: int, w: int) -> np.ndarray:
    """Zero-mean sensor noise twice the image size; images read shifted windows of it."""
    return hash01(np.arange(2 * h)[:, None], np.arange(2 * w)[None, :], seed=99) - np.float32(0.5)
