"""The procedural town: streets, blocks, buildings, trees and parking slots from a seed.

Local coordinates are metres east (``x``) and north (``y``) of the town's south-west
corner; :mod:`.geo` maps them to UTM. Streets form an axis-aligned grid with irregular
spacing and widths; some street segments are pedestrian only; some blocks are parks or
plazas. Every random draw uses ``Generator.random`` only, whose stream numpy keeps stable,
so a seed gives the same town on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import overload

import numpy as np

__all__ = ["SIDEWALK_M", "Town", "make_town"]

SIDEWALK_M = 3.0
_PALETTE = np.array(
    [
        [0.55, 0.25, 0.18],  # brick
        [0.40, 0.20, 0.15],  # dark brick
        [0.78, 0.70, 0.55],  # beige
        [0.86, 0.83, 0.72],  # cream
        [0.88, 0.88, 0.85],  # white
        [0.55, 0.55, 0.55],  # grey
        [0.45, 0.50, 0.60],  # blue-grey
        [0.86, 0.74, 0.38],  # yellow
        [0.60, 0.70, 0.55],  # pale green
        [0.82, 0.60, 0.60],  # pink
        [0.45, 0.35, 0.25],  # brown
        [0.66, 0.64, 0.60],  # concrete
        [0.30, 0.42, 0.55],  # glass-blue cladding
        [0.70, 0.42, 0.28],  # terracotta
    ],
    dtype=np.float32,
)
_ROOFS = np.array(
    [[0.35, 0.35, 0.37], [0.5, 0.28, 0.22], [0.6, 0.6, 0.58], [0.25, 0.27, 0.3], [0.45, 0.4, 0.35]],
    dtype=np.float32,
)
_SIGNS = np.array(
    [
        [0.8, 0.1, 0.1],
        [0.1, 0.3, 0.8],
        [0.95, 0.8, 0.1],
        [0.1, 0.6, 0.3],
        [0.9, 0.9, 0.9],
        [0.1, 0.1, 0.1],
        [0.9, 0.4, 0.0],
        [0.6, 0.1, 0.6],
    ],
    dtype=np.float32,
)


@dataclass(frozen=True, eq=False)
class Town:
    """A generated town; arrays are read-only by convention.

    Streets: vertical streets at ``vx`` (half road widths ``v_half``), horizontal streets at
    ``hy`` (``h_half``); each street corridor is road plus a :data:`SIDEWALK_M` sidewalk on
    both sides. ``v_ped[i, j]`` marks the segment of vertical street ``i`` between the
    street-grid boundaries ``j`` and ``j + 1`` (``[0, *hy, height]``) as pedestrian only;
    ``h_ped`` likewise. ``block_kind[i, j]`` (0 buildings, 1 park, 2 plaza) is the block
    west of ``vx[i]`` / south of ``hy[j]`` (index ``n`` is beyond the last street).
    """

    seed: int
    width: float
    height: float
    vx: np.ndarray
    v_half: np.ndarray
    hy: np.ndarray
    h_half: np.ndarray
    v_ped: np.ndarray
    h_ped: np.ndarray
    block_kind: np.ndarray
    # buildings (axis-aligned boxes)
    box: np.ndarray  # (N, 4) x0, y0, x1, y1
    b_height: np.ndarray
    b_colour: np.ndarray  # (N, 3)
    b_roof: np.ndarray  # (N, 3)
    b_floor: np.ndarray  # floor height (m)
    b_win_dx: np.ndarray  # window column spacing (m)
    b_win_w: np.ndarray  # window width (m)
    b_win_h: np.ndarray  # window height (m)
    b_shop: np.ndarray  # bool: shop front with a sign on the ground floor
    b_sign: np.ndarray  # (N, 3)
    b_style: np.ndarray  # int: 0 plain, 1 brick bands, 2 glass curtain wall
    # trees
    tree: np.ndarray  # (T, 2) x, y
    t_trunk_r: np.ndarray
    t_trunk_h: np.ndarray
    t_crown_r: np.ndarray
    t_crown_z: np.ndarray  # crown centre height
    t_crown_hh: np.ndarray  # crown half height
    t_tone: np.ndarray  # int index into the season's foliage colours
    # parking and pedestrian slots (moving clutter is drawn per condition)
    car_slot: np.ndarray  # (C, 2)
    car_axis: np.ndarray  # 0: car along x, 1: along y
    ped_slot: np.ndarray  # (P, 2)
    # street lamps (lit at dusk and night)
    lamp: np.ndarray  # (L, 2)
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def n_buildings(self) -> int:
        """Number of buildings."""
        return int(self.box.shape[0])

    def street_segments(self) -> list[tuple[float, float, float, float, float]]:
        """Every street segment as ``(x0, y0, x1, y1, half_width)`` between grid lines."""
        ys = [0.0, *self.hy.tolist(), self.height]
        xs = [0.0, *self.vx.tolist(), self.width]
        out = []
        for i, x in enumerate(self.vx.tolist()):
            for j in range(len(ys) - 1):
                out.append((x, ys[j], x, ys[j + 1], float(self.v_half[i])))
        for j, y in enumerate(self.hy.tolist()):
            for i in range(len(xs) - 1):
                out.append((xs[i], y, xs[i + 1], y, float(self.h_half[j])))
        return out


class _Draw:
    """``Generator.random``-only helpers (stable streams)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    @overload
    def u(self, a: float = 0.0, b: float = 1.0, size: None = None) -> float: ...
    @overload
    def u(self, a: float, b: float, size: int | tuple[int, ...]) -> np.ndarray: ...
    @overload
    def u(self, a: float = 0.0, b: float = 1.0, *, size: int | tuple[int, ...]) -> np.ndarray: ...
    def u(
        self, a: float = 0.0, b: float = 1.0, size: int | tuple[int, ...] | None = None
    ) -> np.ndarray | float:
        r = self.rng.random(size)
        return a + (b - a) * r

    def i(self, n: int) -> int:
        return min(int(self.rng.random() * n), n - 1)


def _grid(draw: _Draw, extent: float, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Street centre lines across ``extent`` with irregular block sizes and widths."""
    pos, half = [], []
    p = float(draw.u(45.0, 70.0))
    while p < extent - 45.0:
        pos.append(round(p, 2))
        half.append(round(float(draw.u(3.5, 7.5)), 2))
        p += float(draw.u(lo, hi))
    return np.array(pos), np.array(half)


def make_town(seed: int = 0, width: float = 1200.0, height: float = 640.0) -> Town:
    """Generate the town for ``seed`` (cached: the same arguments return the same object)."""
    return _make_town(int(seed), float(width), float(height))


@lru_cache(maxsize=4)
def _make_town(seed: int, width: float, height: float) -> Town:
    draw = _Draw(seed)
    vx, v_half = _grid(draw, width, 70.0, 125.0)
    hy, h_half = _grid(draw, height, 60.0, 110.0)
    nv, nh = len(vx), len(hy)
    v_ped = draw.u(size=(nv, nh + 1)) < 0.06
    h_ped = draw.u(size=(nh, nv + 1)) < 0.06
    kind_draw = draw.u(size=(nv + 1, nh + 1))
    block_kind = np.where(kind_draw < 0.07, 1, np.where(kind_draw < 0.11, 2, 0)).astype(np.int8)
    cx_town, cy_town = width * 0.55, height * 0.5

    xs_edges = [0.0] + [float(x) for x in vx] + [width]
    ys_edges = [0.0] + [float(y) for y in hy] + [height]
    v_full = [0.0] + [float(h) + SIDEWALK_M for h in v_half] + [0.0]
    h_full = [0.0] + [float(h) + SIDEWALK_M for h in h_half] + [0.0]

    boxes: list[tuple[float, float, float, float]] = []
    heights: list[float] = []
    trees: list[tuple[float, float]] = []
    for i in range(nv + 1):
        xl = xs_edges[i] + v_full[i]
        xr = xs_edges[i + 1] - v_full[i + 1]
        for j in range(nh + 1):
            yb = ys_edges[j] + h_full[j]
            yt = ys_edges[j + 1] - h_full[j + 1]
            kind = int(block_kind[i, j])
            if kind == 1:  # park: scattered trees
                n = int((xr - xl) * (yt - yb) / 160.0)
                px = draw.u(xl + 3, xr - 3, n)
                py = draw.u(yb + 3, yt - 3, n)
                trees.extend(zip(np.round(px, 2).tolist(), np.round(py, 2).tolist(), strict=True))
                continue
            if kind == 2:  # plaza: a low fountain block and a ring of trees
                mx, my = (xl + xr) / 2, (yb + yt) / 2
                boxes.append((mx - 4, my - 4, mx + 4, my + 4))
                heights.append(1.2)
                for fx, fy in (
                    (0.15, 0.15),
                    (0.5, 0.15),
                    (0.85, 0.15),
                    (0.15, 0.5),
                    (0.85, 0.5),
                    (0.15, 0.85),
                    (0.5, 0.85),
                    (0.85, 0.85),
                ):
                    trees.append((round(xl + fx * (xr - xl), 2), round(yb + fy * (yt - yb), 2)))
                continue
            dist = np.hypot((xl + xr) / 2 - cx_town, (yb + yt) / 2 - cy_town)
            tall = max(0.0, 1.0 - dist / 650.0)
            max_floors = 3 + int(11 * tall * tall)
            _fill_block(draw, xl, yb, xr, yt, max_floors, boxes, heights)

    n = len(boxes)
    box = np.round(np.array(boxes, dtype=np.float64), 2)
    floor_h = np.round(draw.u(3.0, 3.6, n), 2)
    b_height = np.round(np.array(heights), 2)
    colour_idx = np.minimum((draw.u(size=n) * len(_PALETTE)).astype(np.int64), len(_PALETTE) - 1)
    jitter = draw.u(-0.05, 0.05, (n, 3))
    b_colour = np.clip(_PALETTE[colour_idx] + jitter, 0, 1).astype(np.float32)
    roof_idx = np.minimum((draw.u(size=n) * len(_ROOFS)).astype(np.int64), len(_ROOFS) - 1)
    sign_idx = np.minimum((draw.u(size=n) * len(_SIGNS)).astype(np.int64), len(_SIGNS) - 1)
    style_draw = draw.u(size=n)
    b_style = np.where(style_draw < 0.2, 1, np.where((style_draw > 0.9) & (b_height > 20), 2, 0))
    win_dx = np.round(draw.u(2.4, 4.2, n), 2)

    # street trees, parking and pedestrian slots, lamps along every segment
    rows_trees = draw.u(size=(nv + nh) * (max(nv, nh) + 1))
    car_slot, car_axis, ped_slot, lamp = [], [], [], []
    k = 0
    for axis, centres, halves, cross, cross_half, peds in (
        (1, vx, v_half, hy, h_half, v_ped),
        (0, hy, h_half, vx, v_half, h_ped),
    ):
        edges = [0.0, *cross.tolist(), width if axis == 0 else height]
        for s, (c, hw) in enumerate(zip(centres.tolist(), halves.tolist(), strict=True)):
            for g in range(len(edges) - 1):
                a0 = edges[g] + (cross_half[g - 1] + SIDEWALK_M + 2.0 if g > 0 else 0.0)
                a1 = edges[g + 1] - (cross_half[g] + SIDEWALK_M + 2.0 if g < len(cross) else 0.0)
                if a1 - a0 < 6:
                    continue
                has_trees = rows_trees[k] < 0.6
                k += 1
                spacing = 9.0 + 4.0 * (k % 3)
                for side in (-1.0, 1.0):
                    along = np.arange(a0 + 3.0, a1 - 2.0, spacing)
                    off = c + side * (hw + 1.3)
                    if has_trees:
                        for a in along.tolist():
                            trees.append(_pt(axis, off, a))
                    for a in np.arange(a0 + 5.0, a1 - 3.0, 25.0).tolist():
                        lamp.append(_pt(axis, c + side * (hw + 0.4), a))
                    if not peds[s, g]:
                        for a in np.arange(a0 + 3.0, a1 - 3.0, 5.6).tolist():
                            car_slot.append(_pt(axis, c + side * (hw - 1.15), a))
                            car_axis.append(axis)
                    for a in np.arange(a0 + 1.0, a1 - 1.0, 3.0).tolist():
                        ped_slot.append(_pt(axis, c + side * (hw + 2.1), a))
    tree = np.round(np.array(trees, dtype=np.float64), 2)
    t = len(tree)
    crown_hh = np.round(draw.u(1.6, 3.5, t), 2)
    car_axis_arr = np.array(car_axis, dtype=np.int8)
    return Town(
        seed=seed,
        width=width,
        height=height,
        vx=vx,
        v_half=v_half,
        hy=hy,
        h_half=h_half,
        v_ped=v_ped,
        h_ped=h_ped,
        block_kind=block_kind,
        box=box,
        b_height=b_height,
        b_colour=b_colour,
        b_roof=_ROOFS[roof_idx],
        b_floor=floor_h.astype(np.float32),
        b_win_dx=win_dx.astype(np.float32),
        b_win_w=np.round(win_dx * draw.u(0.35, 0.65, n), 2).astype(np.float32),
        b_win_h=np.round(floor_h * draw.u(0.4, 0.65, n), 2).astype(np.float32),
        b_shop=(draw.u(size=n) < 0.35) & (b_height > 5),
        b_sign=_SIGNS[sign_idx],
        b_style=b_style.astype(np.int8),
        tree=tree,
        t_trunk_r=np.round(draw.u(0.12, 0.25, t), 2),
        t_trunk_h=np.round(draw.u(1.8, 3.2, t), 2),
        t_crown_r=np.round(draw.u(1.4, 3.2, t), 2),
        t_crown_z=np.round(np.maximum(draw.u(4.0, 6.5, t), crown_hh + 2.6), 2),
        t_crown_hh=crown_hh,
        t_tone=np.minimum((draw.u(size=t) * 4).astype(np.int64), 3),
        car_slot=np.round(np.array(car_slot, dtype=np.float64), 2),
        car_axis=car_axis_arr,
        ped_slot=np.round(np.array(ped_slot, dtype=np.float64), 2),
        lamp=np.round(np.array(lamp, dtype=np.float64), 2),
    )


def _pt(axis: int, off: float, along: float) -> tuple[float, float]:
    """A point at ``off`` across and ``along`` a street (axis 1: vertical street)."""
    return (round(off, 2), round(along, 2)) if axis == 1 else (round(along, 2), round(off, 2))


def _fill_block(
    draw: _Draw,
    xl: float,
    yb: float,
    xr: float,
    yt: float,
    max_floors: int,
    boxes: list[tuple[float, float, float, float]],
    heights: list[float],
) -> None:
    """Fill a block's perimeter with lots facing the streets (courtyard inside)."""
    w, h = xr - xl, yt - yb
    if w < 8 or h < 8:
        return
    depth = float(draw.u(11.0, 18.0))
    strips = []
    if w < 2 * depth + 6 or h < 2 * depth + 6:
        strips.append((xl, yb, xr, yt, 0 if w >= h else 1, "s"))
    else:
        strips.append((xl, yb, xr, yb + depth, 0, "s"))
        strips.append((xl, yt - depth, xr, yt, 0, "n"))
        strips.append((xl, yb + depth, xl + depth, yt - depth, 1, "w"))
        strips.append((xr - depth, yb + depth, xr, yt - depth, 1, "e"))
    for x0, y0, x1, y1, axis, side in strips:
        a0, a1 = (x0, x1) if axis == 0 else (y0, y1)
        a = a0
        while a < a1 - 4:
            front = float(draw.u(7.0, 24.0))
            b = min(a + front, a1)
            if a1 - b < 6:
                b = a1
            if draw.u() < 0.07:  # gap: a small parking lot or alley
                a = b
                continue
            floors = 1 + draw.i(max_floors)
            if draw.u() < 0.08:
                floors = max_floors + 2 + draw.i(8)  # occasional tower
            setback = 0.0 if draw.u() < 0.7 else float(draw.u(0.5, 3.0))
            lot_depth = float(draw.u(0.6, 1.0))
            if axis == 0:
                d = (y1 - y0) * lot_depth
                if side == "s":
                    bx = (a, y0 + setback, b, min(y0 + setback + d, y1))
                else:
                    bx = (a, max(y1 - setback - d, y0), b, y1 - setback)
            else:
                d = (x1 - x0) * lot_depth
                if side == "w":
                    bx = (x0 + setback, a, min(x0 + setback + d, x1), b)
                else:
                    bx = (max(x1 - setback - d, x0), a, x1 - setback, b)
            if bx[2] - bx[0] > 2 and bx[3] - bx[1] > 2:
                boxes.append(bx)
                heights.append(floors * 3.3 + float(draw.u(0.3, 1.5)))
            a = b
