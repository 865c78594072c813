"""Street-level rendering: perspective views and 360-degree panoramas by column ray casting.

Every image column is one horizontal ray from the camera. The ray is intersected in one
vectorised pass with all nearby axis-aligned boxes (buildings, parked cars) using the slab
method, and with vertical cylinders (tree trunks and crowns, pedestrians). The three
nearest box hits, two nearest trees and the nearest pedestrian of each column become
layers with a depth and a covered row interval; each pixel shows the nearest layer that
covers it, else the ground (intersected analytically with the plane z = 0) or the sky.

Projection: a pixel row ``r`` sees height ``cam_h + (horizon - r) * depth / focal``, where
``depth`` is the distance along the optical axis (perspective) or the horizontal distance
(cylindrical panorama). Only IEEE basic operations touch pixels, so renders are
bit-reproducible (see :mod:`.noise`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, overload

import numpy as np

from .class_maps import CLASSES, class_map
from .conditions import DATABASE_CONDITION, Condition, Lighting, lighting
from .ground import ground_albedo
from .noise import cos_sin_deg, hash01, hash_u32
from .street_shading import (
    facade_columns,
    facade_pixels,
    finish,
    hash_idx,
    lamp_pools,
    noise_table,
)
from .town import Town

__all__ = ["CLASSES", "Camera", "render_street"]

_BOX_RANGE_M = 260.0
_CAR_RANGE_M = 120.0
_TREE_RANGE_M = 160.0
_PED_RANGE_M = 60.0
_TWO_PI = 6.283185307179586
_CAR_COLOURS = np.array(
    [
        [0.8, 0.8, 0.82],
        [0.1, 0.1, 0.12],
        [0.55, 0.05, 0.05],
        [0.1, 0.2, 0.5],
        [0.5, 0.5, 0.52],
        [0.85, 0.85, 0.8],
        [0.2, 0.35, 0.2],
        [0.7, 0.6, 0.2],
        [0.3, 0.3, 0.33],
    ],
    dtype=np.float32,
)
_CLOTHES = np.array(
    [
        [0.1, 0.1, 0.15],
        [0.6, 0.1, 0.1],
        [0.2, 0.3, 0.6],
        [0.8, 0.8, 0.75],
        [0.3, 0.4, 0.2],
        [0.6, 0.5, 0.3],
    ],
    dtype=np.float32,
)


@dataclass(frozen=True)
class Camera:
    """A street-level camera.

    ``x``, ``y``: local metres (east, north); ``heading``: degrees clockwise from north
    (the view centre; for panoramas the centre column); ``pitch``: degrees up (moves the
    horizon down); ``hfov``: horizontal field of view of perspective views.
    """

    x: float
    y: float
    heading: float = 0.0
    height: float = 1.7
    pitch: float = 5.0
    hfov: float = 80.0
    panorama: bool = False


def _columns(cam: Camera, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Ray directions (dx, dy) per column, their length and the focal length in pixels.

    Perspective rays have unit forward component, so slab distances are optical depths;
    panorama rays are unit vectors (depth = horizontal distance).
    """
    if cam.panorama:
        angles = cam.heading + (np.arange(width) + 0.5) * (360.0 / width) - 180.0
        c, s = cos_sin_deg(np.round(angles, 6))
        return s, c, np.ones(width), width / _TWO_PI
    c, s = cos_sin_deg(cam.heading)
    ch, sh = cos_sin_deg(cam.hfov / 2.0)
    focal = (width / 2.0) * float(ch) / float(sh)
    off = (np.arange(width) + 0.5 - width / 2.0) / focal
    dx = s + off * c
    dy = c - off * s
    return dx, dy, np.sqrt(1.0 + off * off), focal


def _scene_boxes(
    town: Town, cam: Camera, cond: Condition, lit: Lighting, dx: np.ndarray, dy: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Boxes near the camera and inside the view: (box, height, kind, object id)."""
    cx, cy = cam.x, cam.y
    b = town.box
    mx = (b[:, 0] + b[:, 2]) * 0.5 - cx
    my = (b[:, 1] + b[:, 3]) * 0.5 - cy
    rad = 0.5 * np.sqrt((b[:, 2] - b[:, 0]) ** 2 + (b[:, 3] - b[:, 1]) ** 2)
    keep = (mx * mx + my * my) < (_BOX_RANGE_M + rad) ** 2
    if not cam.panorama:
        keep &= _in_view(mx, my, rad, dx, dy)
    bid = np.nonzero(keep)[0]
    boxes = [b[bid]]
    heights = [town.b_height[bid]]
    kinds = [np.zeros(bid.size, np.int8)]
    ids = [bid]
    # parked cars: which slots are taken depends on the clutter seed
    s = town.car_slot
    sx, sy = s[:, 0] - cx, s[:, 1] - cy
    near = np.nonzero(sx * sx + sy * sy < _CAR_RANGE_M**2)[0]
    occupied = hash01(near, seed=1000 + cond.clutter) < lit.cars
    cid = near[occupied]
    if cid.size:
        shift = np.round((hash01(cid, seed=2000 + cond.clutter) - 0.5) * 1.2, 2)
        along = town.car_axis[cid] == 0
        px = s[cid, 0] + np.where(along, shift, 0.0)
        py = s[cid, 1] + np.where(along, 0.0, shift)
        hl = np.where(along, 2.1, 0.9)
        hw = np.where(along, 0.9, 2.1)
        cars = np.stack([px - hl, py - hw, px + hl, py + hw], axis=1)
        if not cam.panorama:
            vis = _in_view(px - cx, py - cy, np.full(cid.size, 2.4), dx, dy)
            cars, cid = cars[vis], cid[vis]
        boxes.append(cars)
        heights.append(np.round(1.35 + 0.3 * hash01(cid, seed=3000 + cond.clutter), 2))
        kinds.append(np.ones(cid.size, np.int8))
        ids.append(cid)
    return (
        np.concatenate(boxes),
        np.concatenate(heights),
        np.concatenate(kinds),
        np.concatenate(ids),
    )


def _in_view(
    mx: np.ndarray, my: np.ndarray, rad: np.ndarray, dx: np.ndarray, dy: np.ndarray
) -> np.ndarray:
    """Conservative test that a disc (centre offset, radius) touches the view wedge."""
    fx, fy = (dx[0] + dx[-1]) * 0.5, (dy[0] + dy[-1]) * 0.5  # forward (unit length)
    half = abs((dx[-1] - dx[0]) * fy - (dy[-1] - dy[0]) * fx) * 0.5  # tan(hfov / 2)
    along = mx * fx + my * fy
    lat = np.abs(mx * fy - my * fx)
    return (along + rad > 0) & (lat < (along + rad) * half + rad * 1.5)


def _box_layers(boxes, heights, dx, dy, cx, cy, k):
    """The ``k`` nearest box hits per column: depth, box index, hit coordinate u, face."""
    w = dx.size
    sdx = np.where(np.abs(dx) < 1e-9, 1e-9, dx)
    sdy = np.where(np.abs(dy) < 1e-9, 1e-9, dy)
    ix = (1.0 / sdx)[:, None]
    iy = (1.0 / sdy)[:, None]
    tx0 = (boxes[None, :, 0] - cx) * ix
    tx1 = (boxes[None, :, 2] - cx) * ix
    ty0 = (boxes[None, :, 1] - cy) * iy
    ty1 = (boxes[None, :, 3] - cy) * iy
    txn = np.minimum(tx0, tx1)
    tyn = np.minimum(ty0, ty1)
    tn = np.maximum(txn, tyn)
    tf = np.minimum(np.maximum(tx0, tx1), np.maximum(ty0, ty1))
    tn = np.where((tn <= tf) & (tn > 0.05), tn, np.inf)
    cols = np.arange(w)
    out_t = np.full((k, w), np.inf)
    out_i = np.zeros((k, w), np.int64)
    out_xface = np.zeros((k, w), bool)
    if boxes.shape[0] == 0:
        return out_t, out_i, np.zeros((k, w)), out_xface
    for layer in range(min(k, boxes.shape[0])):
        j = np.argmin(tn, axis=1)
        out_t[layer] = tn[cols, j]
        out_i[layer] = j
        out_xface[layer] = txn[cols, j] >= tyn[cols, j]
        tn[cols, j] = np.inf
    t = np.where(np.isfinite(out_t), out_t, 0.0)
    u = np.where(out_xface, cy + t * dy, cx + t * dx)
    return out_t, out_i, u, out_xface


def _cylinder_layers(px, py, radius, dx, dy, norm, cx, cy, k):
    """The ``k`` nearest vertical-cylinder hits per column: depth, index, signed offset."""
    w = dx.size
    ndx = (dx / norm)[:, None]
    ndy = (dy / norm)[:, None]
    rx = (px - cx)[None, :]
    ry = (py - cy)[None, :]
    along = rx * ndx + ry * ndy
    perp = rx * ndy - ry * ndx
    hit = (np.abs(perp) < radius[None, :]) & (along > 0.3)
    depth = np.where(hit, along / norm[:, None], np.inf)
    cols = np.arange(w)
    out_t = np.full((k, w), np.inf)
    out_i = np.zeros((k, w), np.int64)
    out_p = np.zeros((k, w))
    if px.size == 0:
        return out_t, out_i, out_p
    for layer in range(min(k, px.size)):
        j = np.argmin(depth, axis=1)
        out_t[layer] = depth[cols, j]
        out_i[layer] = j
        out_p[layer] = perp[cols, j]
        depth[cols, j] = np.inf
    return out_t, out_i, out_p


@overload
def render_street(
    town: Town,
    cam: Camera,
    cond: Condition = ...,
    size: tuple[int, int] = ...,
    *,
    classes: Literal[False] = ...,
) -> np.ndarray: ...
@overload
def render_street(
    town: Town,
    cam: Camera,
    cond: Condition = ...,
    size: tuple[int, int] = ...,
    *,
    classes: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...
def render_street(
    town: Town,
    cam: Camera,
    cond: Condition = DATABASE_CONDITION,
    size: tuple[int, int] = (128, 256),
    *,
    classes: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Render one street-level image, ``(height, width, 3)`` uint8 RGB; with ``classes``
    also its ``(height, width)`` uint8 class map (indices into :data:`CLASSES`)."""
    h, w = int(size[0]), int(size[1])
    lit = lighting(cond)
    dx, dy, norm, focal = _columns(cam, w)
    if cam.panorama:
        horizon = h / 2.0 + focal * cam.pitch * (_TWO_PI / 360.0)
    else:
        cp, sp = cos_sin_deg(cam.pitch)
        horizon = h / 2.0 + focal * float(sp) / float(cp)
    cx, cy, ch = float(cam.x), float(cam.y), float(cam.height)
    rows = np.arange(h, dtype=np.float32) + np.float32(0.5)
    cols = np.arange(w)

    # ---- layers: boxes (buildings, cars), trees, pedestrians -------------------------
    boxes, bh, bkind, bids = _scene_boxes(town, cam, cond, lit, dx, dy)
    kb, kt = 3, 2
    bt, bi, bu, bxf = _box_layers(boxes, bh, dx, dy, cx, cy, kb)
    tr = town.tree
    tx, ty = tr[:, 0] - cx, tr[:, 1] - cy
    tsel = np.nonzero(tx * tx + ty * ty < _TREE_RANGE_M**2)[0]
    if not cam.panorama and tsel.size:
        tsel = tsel[_in_view(tx[tsel], ty[tsel], town.t_crown_r[tsel], dx, dy)]
    tt, ti, tp = _cylinder_layers(
        tr[tsel, 0], tr[tsel, 1], town.t_crown_r[tsel], dx, dy, norm, cx, cy, kt
    )
    ti = tsel[ti] if tsel.size else ti
    ps = town.ped_slot
    pxo, pyo = ps[:, 0] - cx, ps[:, 1] - cy
    near = np.nonzero(pxo * pxo + pyo * pyo < _PED_RANGE_M**2)[0]
    psel = near[hash01(near, seed=4000 + cond.clutter) < lit.pedestrians]
    jx = np.round((hash01(psel, seed=5000 + cond.clutter) - 0.5) * 2.0, 2)
    jy = np.round((hash01(psel, seed=6000 + cond.clutter) - 0.5) * 2.0, 2)
    pt, pi_, _ = _cylinder_layers(
        ps[psel, 0] + jx, ps[psel, 1] + jy, np.full(psel.size, 0.28), dx, dy, norm, cx, cy, 1
    )
    pi_ = psel[pi_] if psel.size else pi_

    depth = np.concatenate([bt, tt, pt])  # (L, W), L = kb + kt + 1
    fin = np.isfinite(depth)
    scale = focal / np.where(fin, depth, 1e9)  # pixels per metre at that depth
    ground_row = horizon + ch * scale
    top = np.full(depth.shape, np.inf)
    bot = ground_row.copy()
    top2 = np.full(depth.shape, np.inf)
    if bh.size:
        top[:kb] = horizon - (bh[bi] - ch) * scale[:kb]
    if tsel.size:  # crown: an ellipsoid whose half height shrinks with the offset; trunk
        ratio = np.minimum(np.abs(tp) / town.t_crown_r[ti], 1.0)
        half = town.t_crown_hh[ti] * np.sqrt(1.0 - ratio * ratio)
        cz = town.t_crown_z[ti]
        st = scale[kb : kb + kt]
        top[kb : kb + kt] = horizon - (cz + half - ch) * st
        bot[kb : kb + kt] = horizon - (cz - half - ch) * st
        trunk = np.abs(tp) < town.t_trunk_r[ti]
        top2[kb : kb + kt] = np.where(trunk, horizon - (cz - half * 0.5 - ch) * st, np.inf)
        if lit.bare_trees:  # winter: only thin branches of the crown remain
            twig = hash01(np.floor(tp * 6.0).astype(np.int64), ti, seed=77) < 0.3
            bot[kb : kb + kt] = np.where(twig, bot[kb : kb + kt], -np.inf)
    top[kb + kt] = horizon - (1.72 - ch) * scale[kb + kt]
    top = np.where(fin, top, np.inf).astype(np.float32)
    bot = bot.astype(np.float32)
    top2 = top2.astype(np.float32)
    ground_row = ground_row.astype(np.float32)

    # painter's algorithm per column: far layers first, nearer ones overwrite
    order = np.argsort(np.where(fin, depth, np.inf), axis=0, kind="stable")[::-1]
    sel = np.full((h, w), -1, np.int8)
    r2 = rows[:, None]
    for rank in range(depth.shape[0]):
        lay = order[rank]
        if not fin[lay, cols].any():
            continue
        t1 = top[lay, cols]
        b1 = bot[lay, cols]
        cover = (r2 >= t1) & (r2 <= b1)
        t2 = top2[lay, cols]
        if np.isfinite(t2).any():
            cover |= (r2 >= t2) & (r2 <= ground_row[lay, cols])
        sel = np.where(cover, lay.astype(np.int8), sel)

    img = np.zeros((h * w, 3), np.float32)
    pix_depth = np.zeros(h * w, np.float32)
    light = lit.light
    selr = sel.ravel()
    f32 = np.float32

    # ---- sky and ground ------------------------------------------------------------------
    hz = f32(horizon)
    t_sky = np.clip((hz - rows) / f32(max(horizon, 1.0)), 0.0, 1.0)[:, None]
    sky_rows = lit.sky_horizon * (1 - t_sky) + lit.sky_top * t_sky
    empty = selr < 0
    above = np.repeat(rows <= hz, w)
    pix = np.flatnonzero(empty & above)
    img[pix] = sky_rows[pix // w]
    pix = np.flatnonzero(empty & ~above)
    rg = pix // w
    cg = pix - rg * w
    zg = ch * focal / np.maximum(rows[rg].astype(np.float64) - horizon, 1e-3)
    gx = cx + zg * dx[cg]
    gy = cy + zg * dy[cg]
    col = ground_albedo(town, gx, gy, lit) * light
    if lit.lamps:
        gain = f32(0.55) if cond.time == "night" else f32(0.2)
        col = col + lamp_pools(town, gx, gy, cx, cy) * gain
    img[pix] = col
    pix_depth[pix] = zg * norm[cg]

    pix = np.flatnonzero(~empty)
    li = selr[pix].astype(np.int64) * w + (pix % w)
    pix_depth[pix] = (depth * norm).ravel()[li]

    # ---- buildings and cars --------------------------------------------------------------
    pix = np.flatnonzero(~empty & (selr < kb))
    if pix.size:
        r = pix // w
        li = selr[pix].astype(np.int64) * w + (pix - r * w)
        z = np.where(np.isfinite(bt), bt, 0.0).ravel()[li]
        v = (ch + (horizon - rows[r].astype(np.float64)) * z / focal).astype(f32)
        is_car = (bkind[bi] == 1).ravel()[li] if bkind.size else np.zeros(pix.size, bool)
        ids = bids[bi] if bids.size else np.zeros(bi.shape, np.int64)
        if (~is_car).any():
            kk = np.where(bkind[bi] == 0, ids, 0) if bkind.size else ids
            table = facade_columns(town, lit, kk, bu, bxf, dx, dy)
            lb = li[~is_car]
            per_pixel = {
                n: a.reshape(a.shape[0] * a.shape[1], *a.shape[2:])[lb] for n, a in table.items()
            }
            img[pix[~is_car]] = facade_pixels(lit, per_pixel, v[~is_car])
        if is_car.any():
            lc = li[is_car]
            vc = v[is_car]
            k = ids.ravel()[lc]
            c = _CAR_COLOURS[hash_idx(k, 7000 + cond.clutter) % len(_CAR_COLOURS)]
            carh = bh[bi.ravel()[lc]].astype(f32)
            c[(vc > carh - f32(0.5)) & (vc < carh - f32(0.1))] = (0.08, 0.1, 0.13)
            c[vc < f32(0.38)] = (0.04, 0.04, 0.04)
            c[(vc >= f32(0.38)) & (vc < f32(0.55))] *= f32(0.6)
            img[pix[is_car]] = c * light

    # ---- trees -------------------------------------------------------------------------
    pix = np.flatnonzero((selr >= kb) & (selr < kb + kt))
    if pix.size:
        r = pix // w
        li = (selr[pix].astype(np.int64) - kb) * w + (pix - r * w)
        k = ti.ravel()[li]
        z = tt.ravel()[li]
        v = (ch + (horizon - rows[r].astype(np.float64)) * z / focal).astype(f32)
        p = tp.ravel()[li]
        cz = town.t_crown_z[k].astype(f32)
        chh = town.t_crown_hh[k].astype(f32)
        trunk = (np.abs(p) < town.t_trunk_r[k]) & (v < cz - chh * f32(0.5))
        base = lit.foliage[town.t_tone[k] % lit.foliage.shape[0]]
        gk = hash_u32(np.floor(tp * 4.0).astype(np.int64), ti, seed=88).ravel()[li]
        leaf = noise_table()[
            (gk & np.uint32(255)).astype(np.int64) * 256
            + (np.floor(v * f32(4.0)).astype(np.int64) & 255)
        ]
        rel = np.clip((v - (cz - chh)) / (2 * chh), 0, 1)
        shade = f32(0.55) + f32(0.35) * leaf + f32(0.3) * rel
        c = base * shade[:, None]
        c[trunk] = (0.28, 0.2, 0.14)
        img[pix] = c * light

    # ---- pedestrians -------------------------------------------------------------------
    pix = np.flatnonzero(selr == kb + kt)
    if pix.size:
        r = pix // w
        c_ = pix - r * w
        k = pi_[0, c_]
        v = ch + (horizon - rows[r].astype(np.float64)) * pt[0, c_] / focal
        top_c = _CLOTHES[hash_idx(k, 8000 + cond.clutter) % len(_CLOTHES)]
        leg_c = _CLOTHES[hash_idx(k, 9000 + cond.clutter) % len(_CLOTHES)] * f32(0.6)
        c = np.where((v < 0.85)[:, None], leg_c, top_c)
        c[v > 1.5] = (0.75, 0.58, 0.45)
        img[pix] = c * light

    out = finish(img.reshape(h, w, 3), pix_depth.reshape(h, w), lit, cam, cond)
    if not classes:
        return out
    car_layer = (bkind[bi] == 1) if bkind.size else np.zeros(bi.shape, bool)
    return out, class_map(sel, empty.reshape(h, w) & above.reshape(h, w), car_layer, kb, kt)
