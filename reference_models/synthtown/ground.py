"""What lies on the ground at a point: road, markings, crossings, sidewalk, grass, plaza.

Evaluated procedurally per pixel (no raster), so road markings stay sharp at any distance
and the street-level and aerial renderers agree on every stripe.
"""

from __future__ import annotations

import numpy as np

from .conditions import Lighting
from .noise import hash01
from .town import SIDEWALK_M, Town

__all__ = ["ground_albedo"]

# material albedos (summer, dry); index = material code
ROAD, MARK_WHITE, MARK_YELLOW, SIDEWALK, CURB, GRASS, PLAZA, LOT, CROSSING = range(9)
_ALBEDO = np.array(
    [
        [0.22, 0.22, 0.23],  # road
        [0.85, 0.85, 0.82],  # white marking
        [0.85, 0.7, 0.2],  # yellow marking
        [0.55, 0.54, 0.52],  # sidewalk
        [0.7, 0.7, 0.68],  # curb
        [0.3, 0.5, 0.2],  # grass (replaced by the season's)
        [0.62, 0.55, 0.45],  # plaza stone
        [0.38, 0.37, 0.36],  # courtyard / parking lot
        [0.88, 0.88, 0.86],  # crossing stripes
    ],
    dtype=np.float32,
)


def _nearest_line(pos: np.ndarray, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of and distance to the nearest value of sorted ``lines`` for every ``pos``."""
    i = np.searchsorted(lines, pos)
    lo = np.clip(i - 1, 0, len(lines) - 1)
    hi = np.clip(i, 0, len(lines) - 1)
    dlo = np.abs(pos - lines[lo])
    dhi = np.abs(pos - lines[hi])
    take_hi = dhi < dlo
    return np.where(take_hi, hi, lo), np.where(take_hi, dhi, dlo)


def ground_material(town: Town, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Material code (int8) at the points ``(x, y)`` (local metres)."""
    iv, dv = _nearest_line(x, town.vx)
    ih, dh = _nearest_line(y, town.hy)
    hv = town.v_half[iv]
    hh = town.h_half[ih]
    seg_v = np.searchsorted(town.hy, y)  # segment of the vertical street along y
    seg_h = np.searchsorted(town.vx, x)
    ped_v = town.v_ped[iv, seg_v]
    ped_h = town.h_ped[ih, seg_h]
    in_v_walk = dv < hv + SIDEWALK_M
    in_h_walk = dh < hh + SIDEWALK_M
    in_v_road = dv < hv
    in_h_road = dh < hh

    kind = town.block_kind[seg_h, seg_v]
    mat = np.where(kind == 1, GRASS, np.where(kind == 2, PLAZA, LOT)).astype(np.int8)
    mat[in_v_walk | in_h_walk] = SIDEWALK
    curb = (in_v_walk & ~in_h_road & (np.abs(dv - hv) < 0.18)) | (
        in_h_walk & ~in_v_road & (np.abs(dh - hh) < 0.18)
    )
    mat[curb] = CURB
    v_road = in_v_road & ~in_h_road
    h_road = in_h_road & ~in_v_road
    road = in_v_road | in_h_road
    mat[road] = ROAD
    mat[(v_road & ped_v) | (h_road & ped_h)] = PLAZA
    # centre lines: dashed yellow
    mark_v = v_road & ~ped_v & ~in_h_walk & (dv < 0.12) & (np.mod(y, 9.0) < 4.5)
    mark_h = h_road & ~ped_h & ~in_v_walk & (dh < 0.12) & (np.mod(x, 9.0) < 4.5)
    mat[mark_v | mark_h] = MARK_YELLOW
    # lane edge lines: solid white 0.6 m inside the curb
    edge_v = v_road & ~ped_v & ~in_h_walk & (np.abs(dv - (hv - 0.6)) < 0.08)
    edge_h = h_road & ~ped_h & ~in_v_walk & (np.abs(dh - (hh - 0.6)) < 0.08)
    mat[edge_v | edge_h] = MARK_WHITE
    # zebra crossings just outside each intersection
    ev = dh - (hh + SIDEWALK_M)
    cross_v = v_road & ~ped_v & (ev > 0.4) & (ev < 3.4) & (np.mod(x - town.vx[iv], 1.2) < 0.6)
    eh = dv - (hv + SIDEWALK_M)
    cross_h = h_road & ~ped_h & (eh > 0.4) & (eh < 3.4) & (np.mod(y - town.hy[ih], 1.2) < 0.6)
    mat[cross_v | cross_h] = CROSSING
    return mat


def ground_albedo(town: Town, x: np.ndarray, y: np.ndarray, lit: Lighting) -> np.ndarray:
    """Albedo (float32, shape ``x.shape + (3,)``) of the ground at ``(x, y)``."""
    mat = ground_material(town, x, y)
    alb = _ALBEDO.copy()
    alb[GRASS] = lit.grass
    if lit.snow:
        alb[SIDEWALK] = (0.8, 0.82, 0.86)
        alb[PLAZA] = (0.85, 0.86, 0.9)
        alb[LOT] = (0.82, 0.84, 0.88)
        alb[ROAD] = (0.17, 0.17, 0.19)
    col = alb[mat]
    ix = np.floor(x * 3.0).astype(np.int64)
    iy = np.floor(y * 3.0).astype(np.int64)
    grain = hash01(ix, iy, seed=11) * np.float32(0.16) + np.float32(0.92)
    tiles = (mat == SIDEWALK) & ((np.mod(x, 1.5) < 0.07) | (np.mod(y, 1.5) < 0.07))
    grain = np.where(tiles, grain * np.float32(0.75), grain)
    px = np.floor(x * 0.25).astype(np.int64)
    py = np.floor(y * 0.25).astype(np.int64)
    patches = hash01(px, py, seed=12)
    grain = grain * (np.float32(0.9) + np.float32(0.2) * patches)
    return col * grain[..., None]
