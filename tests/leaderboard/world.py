"""A small constructed benchmark for the leaderboard tests: a 4 km street, 400 database
images every 10 m, 200 queries, positives within 25 m, and submissions of known quality."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vprmetrics.data.loaders import Dataset, save_ground_truth_npz
from vprmetrics.data.protocol import load_protocol

N_DB, N_Q, DIM = 400, 200, 32
HOSTILE = "<script>alert(1)</script>"

PROTOCOL = """schema = 1
name = "lbtown"
dataset = "a constructed street for the leaderboard tests"
split = "test"
layout = "csv"
task = "vpr"
status = "verified"
description = "400 database images every 10 m, 200 queries, 25 m positives."

[database]
path = "database.csv"
count = 400
count_verified = true

[queries]
path = "queries.csv"
count = 200
count_verified = true

[ground_truth]
kind = "radius"
coordinates = "utm"
radius_m = 25.0
no_positive = "miss"

[metrics]
recall_at_n = [1, 5, 10]
recall_at_percent = [1]
recall_at_percent_convention = "ceil"

[loader]
"""


def make_world(root: Path) -> dict[str, Path]:
    """Write the protocol, GT.npz and the submissions under ``root``; return their paths."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "lbtown.toml").write_text(PROTOCOL)
    protocol = load_protocol(root / "lbtown.toml")
    rng = np.random.default_rng(12)
    db_xy = np.stack([10.0 * np.arange(N_DB), np.zeros(N_DB)], axis=1)
    q_x = rng.uniform(0, 10.0 * (N_DB - 1), N_Q)
    q_xy = np.stack([q_x, np.full(N_Q, 3.0)], axis=1)
    ds = Dataset(
        protocol,
        None,
        np.asarray([f"db/{i:04d}.jpg" for i in range(N_DB)]),
        np.asarray([f"q/{i:04d}.jpg" for i in range(N_Q)]),
        db_xy,
        q_xy,
    )
    save_ground_truth_npz(root / "GT.npz", ds)
    database = rng.standard_normal((N_DB, DIM)).astype("float32")
    nearest = np.rint(q_x / 10.0).astype(int)
    noise = rng.standard_normal((N_Q, DIM)).astype("float32")
    tweak = rng.standard_normal((N_Q, DIM)).astype("float32")
    mid = database[nearest] + 2.0 * noise
    subs = {
        "winner": (database[nearest] + 0.3 * noise, database),
        "mid-a": (mid, database),
        "mid-b": (mid + 0.3 * tweak, database),
        "collapsed": (np.ones((N_Q, DIM), "float32"), np.ones((N_DB, DIM), "float32")),
        "hostile": (database[nearest] + 2.8 * noise, database),
        "nan": (np.where(np.arange(N_Q)[:, None] == 7, np.nan, mid).astype("float32"), database),
    }
    paths = {"protocol": root / "lbtown.toml", "gt": root / "GT.npz"}
    for name, (q, d) in subs.items():
        paths[name] = root / f"{name}.npz"
        np.savez(paths[name], queries=q, database=d)
    return paths
