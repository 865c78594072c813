"""SynthTown's per-pixel classes: the names and the map from a render's visible layers.

:func:`reference_models.synthtown.render_street.render_street` with ``classes=True``
returns, beside the image, the class of every pixel as an index into :data:`CLASSES`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CLASSES", "class_map"]

#: Per-pixel classes of :func:`render_street` with ``classes=True`` (value = index):
#: ground (roads, sidewalks, crossings) is ``road``, tree trunks and crowns ``vegetation``,
#: parked cars ``vehicle``.
CLASSES: tuple[str, ...] = ("sky", "building", "vegetation", "road", "vehicle", "person")


def class_map(
    sel: np.ndarray, sky: np.ndarray, car_layer: np.ndarray, kb: int, kt: int
) -> np.ndarray:
    """Class of every pixel from the layer it shows (``sel``: -1 = none; layers ``< kb``
    boxes, ``car_layer[layer, column]`` telling cars from buildings, then ``kt`` tree
    layers and the pedestrian layer); uncovered pixels are sky above the horizon
    (``sky``), else road.

    >>> sel = np.array([[-1, 0], [1, 2]]); cars = np.array([[False, True]])
    >>> class_map(sel, np.array([[True, False], [False, False]]), cars, 1, 1).tolist()
    [[0, 4], [2, 5]]
    """
    idx = CLASSES.index
    out = np.where(sky, np.uint8(idx("sky")), np.uint8(idx("road")))
    cols = np.broadcast_to(np.arange(sel.shape[1]), sel.shape)
    box = (sel >= 0) & (sel < kb)
    car = np.zeros(sel.shape, bool)
    car[box] = car_layer[sel[box], cols[box]]
    out[box] = idx("building")
    out[car] = idx("vehicle")
    out[(sel >= kb) & (sel < kb + kt)] = idx("vegetation")
    out[sel == kb + kt] = idx("person")
    return out.astype(np.uint8)
