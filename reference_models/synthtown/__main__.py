"""Command line: ``python -m reference_models.synthtown generate --out DIR``.

Subcommands:

* ``generate``: write the VG-layout dataset (``DIR/synthtown``) and the cross-view
  dataset (``DIR/synthtown-crossview``).
* ``render``: render one view to a PNG (to look at a place).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from .conditions import SEASONS, TIMES, WEATHERS, Condition
from .dataset import SIZES, save_jpeg, write_crossview, write_vg
from .render_aerial import render_aerial
from .render_street import Camera, render_street
from .town import make_town


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected HxW such as 128x256, got {text!r}") from exc
    if not (16 <= h <= 1024 and 16 <= w <= 2048):
        raise argparse.ArgumentTypeError(f"image size {h}x{w} outside 16x16 .. 1024x2048")
    return h, w


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also documents the CLI)."""
    p = argparse.ArgumentParser(
        prog="python -m reference_models.synthtown",
        description="Procedural geo-tagged town for VPR benchmarks.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="write the VG-layout and cross-view datasets")
    g.add_argument("--out", required=True, help="output folder (created)")
    g.add_argument("--seed", type=int, default=0, help="town and sampling seed (default 0)")
    g.add_argument("--size", choices=sorted(SIZES), default="small", help="preset (default small)")
    g.add_argument(
        "--image-size",
        type=_size,
        default=None,
        metavar="HxW",
        help="street image size (default of the preset: 128x256)",
    )
    g.add_argument("--workers", type=int, default=2, help="render processes (default 2)")
    g.add_argument(
        "--only",
        choices=("vg", "crossview"),
        default=None,
        help="write only one of the two datasets",
    )
    g.add_argument("--quiet", action="store_true", help="no progress output")
    g.add_argument(
        "--class-maps",
        action="store_true",
        help="also write per-pixel class maps (sky, building, vegetation, road, "
        "vehicle, person) as <out>/synthtown/class_maps/<image path>.png",
    )
    r = sub.add_parser("render", help="render one view to an image file")
    r.add_argument("--out", required=True, help="output file (.png or .jpg)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--x", type=float, required=True, help="local metres east")
    r.add_argument("--y", type=float, required=True, help="local metres north")
    r.add_argument("--heading", type=float, default=0.0, help="degrees clockwise from north")
    r.add_argument("--kind", choices=("street", "panorama", "aerial"), default="street")
    r.add_argument("--image-size", type=_size, default=(128, 256), metavar="HxW")
    r.add_argument("--time", choices=TIMES, default="day")
    r.add_argument("--weather", choices=WEATHERS, default="clear")
    r.add_argument("--season", choices=SEASONS, default="summer")
    r.add_argument("--clutter", type=int, default=0, help="seed of cars and pedestrians")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "generate":
        cfg = dataclasses.replace(SIZES[args.size], seed=args.seed)
        if args.image_size:
            cfg = dataclasses.replace(cfg, image_size=args.image_size)
        t0 = time.perf_counter()
        if args.only in (None, "vg"):
            m = write_vg(
                args.out,
                cfg,
                workers=args.workers,
                progress=not args.quiet,
                class_maps=args.class_maps,
            )
            if not args.quiet:
                print(f"synthtown: {m['counts']}")
        if args.only in (None, "crossview"):
            m = write_crossview(args.out, cfg, workers=args.workers, progress=not args.quiet)
            if not args.quiet:
                print(f"synthtown-crossview: {m['pairs']} pairs")
        if not args.quiet:
            print(f"done in {time.perf_counter() - t0:.1f} s -> {args.out}")
        return 0
    town = make_town(args.seed)
    cond = Condition(args.time, args.weather, args.season, args.clutter)
    x, y = round(args.x, 2), round(args.y, 2)
    if args.kind == "aerial":
        img = render_aerial(town, x, y, cond, size=args.image_size[0])
    else:
        cam = Camera(
            x,
            y,
            args.heading,
            panorama=args.kind == "panorama",
            pitch=0.0 if args.kind == "panorama" else 5.0,
        )
        img = render_street(town, cam, cond, args.image_size)
    if args.out.lower().endswith((".jpg", ".jpeg")):
        save_jpeg(img, args.out)
    else:
        from PIL import Image

        Image.fromarray(img).save(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
