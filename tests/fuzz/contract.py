"""The contract every entry point keeps on untrusted input, and a clean world to break.

Contract: exit 2 with one short message (at most 3 lines, no traceback) and every file in
the watched folder byte-identical with nothing added, or exit 0; and a marker file that an
unpickled payload would create never appears.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, settings

from tests.fuzz import builders as b
from vprmetrics.cli import main

#: Examples per fuzz test: a fast profile for ``make test``; ``VPRMETRICS_FUZZ=thorough``
#: (by hand) tries 50 times more.
FUZZ_EXAMPLES = 1000 if os.environ.get("VPRMETRICS_FUZZ") == "thorough" else 20
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("VPRMETRICS_FUZZ") != "thorough",
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(folder.rglob("*"))
        if not p.is_symlink()
    }


@dataclass
class Outcome:
    rc: int
    out: str
    err: str
    changed: bool


def _print_warning(message, category, filename, lineno, file=None, line=None):
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def run(argv: list[str], watch: Path) -> Outcome:
    """Run ``vprmetrics argv`` in-process and say whether anything under ``watch`` changed."""
    before = snapshot(watch)
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        warnings.catch_warnings(),
    ):
        # a warning that escapes the command line is printed, as outside pytest
        warnings.simplefilter("default")
        warnings.showwarning = _print_warning
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse usage errors
            rc = exc.code if isinstance(exc.code, int) else 2
    return Outcome(rc, out.getvalue(), err.getvalue(), snapshot(watch) != before)


def check(outcome: Outcome, marker: Path, *, max_lines: int = 3) -> Outcome:
    """Assert the contract (see the module docstring)."""
    assert not marker.exists(), "an untrusted payload was unpickled"
    assert "Traceback" not in outcome.err, outcome.err
    assert outcome.rc in (0, 2), (outcome.rc, outcome.err)
    if outcome.rc == 2:
        lines = outcome.err.strip().splitlines()
        assert 1 <= len(lines) <= max_lines, outcome.err
        assert not outcome.changed, f"a failed run changed the outputs: {outcome.err}"
    return outcome


def report_numbers(path: Path) -> dict:
    """A report without what legitimately differs between runs (timing, file hashes)."""
    report = json.loads(path.read_text())
    report.pop("timing", None)
    report.get("efficiency", {}).pop("matching_ms_per_query", None)
    for key in ("submission_sha256", "submission_files", "ground_truth_sha256"):
        report.get("protocol", {}).pop(key, None)
    return report


@dataclass
class World:
    """A small valid setup: raw arrays, a csv-layout dataset with its protocol, its
    ground-truth file and a submission; ``out`` holds a previous good report."""

    root: Path
    data: Path
    out: Path
    marker: Path
    protocol: Path

    def raw_args(self, **replace: str) -> list[str]:
        files = {"queries": "q.npy", "database": "db.npy", "query-utm": "qu.npy"}
        files["database-utm"] = "du.npy"
        args = ["evaluate"]
        for flag, name in files.items():
            args += [f"--{flag}", replace.get(flag, str(self.data / name))]
        return [*args, "--n-resamples", "20"]

    def protocol_args(self, command: str = "evaluate", **replace: str) -> list[str]:
        args = [command, "--protocol", replace.get("protocol", str(self.protocol))]
        if "dataset-root" in replace:
            args += ["--dataset-root", replace["dataset-root"]]
        else:
            args += ["--ground-truth", replace.get("ground-truth", str(self.data / "GT.npz"))]
        args += ["--submission", replace.get("submission", str(self.data / "S.npz"))]
        return args + (["--n-resamples", "20"] if command == "evaluate" else [])

    def outputs(self) -> list[str]:
        return [
            "--json",
            str(self.out / "r.json"),
            "--per-query",
            str(self.out / "q.csv"),
            "--markdown",
            str(self.out / "r.md"),
        ]


PROTOCOL = """\
schema = 1
name = "{name}"
dataset = "fuzztown"
split = "test"
layout = "csv"
task = "vpr"
status = "unverified"
description = "a tiny csv-layout protocol for the fuzz suite"

[database]
path = "db.csv"
count = 40
count_verified = true

[queries]
path = "q.csv"
count = 12
count_verified = true

[ground_truth]
kind = "radius"
coordinates = "utm"
radius_m = 25.0
no_positive = "exclude"

[metrics]
recall_at_n = [1, 5]
recall_at_percent = [10]
"""


def make_world(root: Path) -> World:
    from vprmetrics.data.loaders import load_dataset, save_ground_truth_npz
    from vprmetrics.data.protocol import load_protocol

    rng = np.random.default_rng(0)
    data, out = root / "data", root / "out"
    (data / "images").mkdir(parents=True)
    out.mkdir()
    n_db, n_q, dim = 40, 12, 8
    db_xy = np.c_[500000 + np.arange(n_db) * 10.0, np.full(n_db, 4500000.0)]
    q_xy = db_xy[::3][:n_q] + rng.normal(0, 3, size=(n_q, 2))
    places = rng.normal(size=(n_db, dim)).astype(np.float32)
    queries = (places[::3][:n_q] + rng.normal(0, 0.3, size=(n_q, dim))).astype(np.float32)
    for name, arr in {"q": queries, "db": places, "qu": q_xy, "du": db_xy}.items():
        np.save(data / f"{name}.npy", arr)
    for side, xy in (("db", db_xy), ("q", q_xy)):
        rows = ["path,easting,northing"]
        for i, (e, n) in enumerate(xy):
            (data / "images" / f"{side}{i}.jpg").write_bytes(b"jpg")
            rows.append(f"images/{side}{i}.jpg,{float(e)!r},{float(n)!r}")
        (data / f"{side}.csv").write_text("\n".join(rows) + "\n")
    protocol = data / "fuzztown.toml"
    protocol.write_text(PROTOCOL.format(name="fuzztown"))
    dataset = load_dataset(load_protocol(protocol), data)
    save_ground_truth_npz(data / "GT.npz", dataset)
    np.savez(
        data / "S.npz",
        queries=queries,
        database=places,
        query_ids=dataset.query_ids,
        database_ids=dataset.database_ids,
    )
    world = World(root, data, out, root / "marker", protocol)
    os.environ[b.MARKER_ENV] = str(world.marker)
    assert main([*world.protocol_args(), *world.outputs()]) == 0
    return world
