"""SynthTown: a deterministic procedural town rendered from the street and from the air.

A seed gives a town (streets, buildings, trees, parking slots); the renderers give
geo-tagged street views, panoramas and aerial tiles under changing conditions; the
writers lay them out as VG-benchmark and CVUSA-like datasets. numpy, scipy and pillow
only (no torch).

>>> from reference_models.synthtown import generate_split
>>> d = generate_split("test", n_database=4, n_queries=2, size=(32, 64))
>>> d["database"].shape, d["queries"].dtype
((4, 32, 64, 3), dtype('uint8'))
"""

from __future__ import annotations

from .conditions import DATABASE_CONDITION, Condition
from .dataset import SIZES, Config, View, generate_split, write_crossview, write_vg
from .render_aerial import render_aerial
from .render_street import Camera, render_street
from .town import Town, make_town

__all__ = [
    "DATABASE_CONDITION",
    "SIZES",
    "Camera",
    "Condition",
    "Config",
    "Town",
    "View",
    "generate_split",
    "make_town",
    "render_aerial",
    "render_street",
    "write_crossview",
    "write_vg",
]
