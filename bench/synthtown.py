"""Benchmark: SynthTown render speed, and the raw-pixel baseline on the test split.

Usage::

    python bench/synthtown.py                # speed only (about 20 s)
    python bench/synthtown.py --baseline     # plus R@N / R@1% / PSSR of raw pixels

Speed is measured for 128x256 perspective street views at random street positions of
the test split under mixed conditions: one process rendering in memory, and
``--workers`` processes rendering and JPEG-encoding (what ``generate`` does).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from multiprocessing import get_context

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np

from reference_models.synthtown.dataset import SIZES, render_view, sample_queries
from reference_models.synthtown.town import make_town


def _views(n: int):
    town = make_town(0)
    return town, sample_queries(town, "test", n, SIZES["small"])


def _encode_chunk(views) -> int:
    from PIL import Image

    town = make_town(0)
    for v in views:
        buf = io.BytesIO()
        Image.fromarray(render_view(town, v, (128, 256))).save(buf, format="JPEG", quality=95)
    return len(views)


def main() -> None:
    """Run the benchmark and print the numbers."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="images per measurement")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline", action="store_true", help="also score the raw-pixel baseline")
    args = ap.parse_args()

    town, views = _views(args.n)
    render_view(town, views[0], (128, 256))  # warm-up (town, tables)
    t0 = time.perf_counter()
    for v in views[: args.n // 2]:
        render_view(town, v, (128, 256))
    one = (args.n // 2) / (time.perf_counter() - t0)
    print(f"render 128x256, 1 process:            {one:7.1f} images/s")
    chunks = [views[i : i + 50] for i in range(0, len(views), 50)]
    with get_context("fork").Pool(args.workers) as pool:
        pool.map(_encode_chunk, chunks[:2])  # warm-up
        t0 = time.perf_counter()
        done = sum(pool.map(_encode_chunk, chunks))
        many = done / (time.perf_counter() - t0)
    print(f"render + JPEG 128x256, {args.workers} processes:  {many:7.1f} images/s")

    if args.baseline:
        from reference_models.synthtown.baseline import raw_pixel_descriptors, recall_report
        from reference_models.synthtown.dataset import generate_split

        t0 = time.perf_counter()
        d = generate_split("test", n_queries=dict(SIZES["small"].queries)["test"], size=(128, 256))
        print(
            f"test split rendered in {time.perf_counter() - t0:.1f} s: "
            f"{len(d['database'])} database, {len(d['queries'])} queries"
        )
        rep = recall_report(
            raw_pixel_descriptors(d["database"]),
            raw_pixel_descriptors(d["queries"]),
            np.asarray(d["database_xy"]),
            np.asarray(d["queries_xy"]),
        )
        print(
            "raw-pixel baseline (16x32 grey, L2, 25 m): "
            + ", ".join(f"{k} {v:.3f}" for k, v in rep.items())
        )


if __name__ == "__main__":
    main()
