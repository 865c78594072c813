"""Make the sample images of docs/synthtown.md (docs/img/synthtown/*.png).

Usage: ``python scripts/synthtown_figures.py [--out docs/img/synthtown]``. Deterministic:
rerunning gives the same pixels.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np
from PIL import Image, ImageDraw

from reference_models.synthtown import (
    DATABASE_CONDITION,
    Camera,
    Condition,
    make_town,
    render_aerial,
    render_street,
)

CONDITIONS = [
    ("database: day-clear-summer", DATABASE_CONDITION),
    ("dusk", Condition("dusk", "clear", "summer")),
    ("night", Condition("night", "clear", "summer")),
    ("overcast", Condition("day", "overcast", "summer")),
    ("fog", Condition("day", "fog", "summer")),
    ("autumn", Condition("day", "clear", "autumn")),
    ("winter", Condition("day", "clear", "winter")),
    ("other cars and pedestrians", Condition("day", "clear", "summer", clutter=5)),
    ("night-fog-winter", Condition("night", "fog", "winter", clutter=9)),
]


def _label(img: np.ndarray, text: str) -> np.ndarray:
    im = Image.fromarray(img)
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, 6 * len(text) + 6, 12], fill=(0, 0, 0))
    d.text((3, 1), text, fill=(255, 255, 255))
    return np.asarray(im)


def main() -> None:
    """Render and save the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join("docs", "img", "synthtown"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    town = make_town(0)
    x, y = round(float(town.vx[8]) - 0.8, 2), 330.0
    cam = Camera(x, y, 0.0)
    tiles = [_label(render_street(town, cam, c, (128, 256)), name) for name, c in CONDITIONS]
    rows = [np.concatenate(tiles[i : i + 3], axis=1) for i in range(0, 9, 3)]
    Image.fromarray(np.concatenate(rows, axis=0)).save(os.path.join(args.out, "conditions.png"))

    views = []
    for dy_, hd in ((0.0, 90.0), (3.0, 90.0), (200.0, 90.0)):
        views.append(
            _label(
                render_street(town, Camera(x, y + dy_, hd), size=(128, 256)),
                f"y + {dy_:.0f} m, heading {hd:.0f}",
            )
        )
    Image.fromarray(np.concatenate(views, axis=1)).save(os.path.join(args.out, "geometry.png"))

    pano = render_street(town, Camera(x, y, 0.0, pitch=0.0, panorama=True), size=(128, 512))
    Image.fromarray(_label(pano, "360-degree panorama, north at the centre")).save(
        os.path.join(args.out, "panorama.png")
    )
    aerial = np.concatenate(
        [
            _label(render_aerial(town, x, y, size=192, gsd=0.5), "aerial 0.5 m/px"),
            _label(render_aerial(town, x, y, size=192, gsd=2.0), "aerial 2 m/px"),
            _label(
                render_aerial(town, x, y, Condition("day", "clear", "winter"), size=192, gsd=0.5),
                "aerial, winter",
            ),
        ],
        axis=1,
    )
    Image.fromarray(aerial).save(os.path.join(args.out, "aerial.png"))
    print(f"wrote figures to {args.out}")


if __name__ == "__main__":
    main()
