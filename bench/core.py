"""Speed and memory of a full evaluation against the GEMM bound and two baselines.

Usage::

    python bench/core.py                  # the three cases of the issue (about 6 minutes)
    python bench/core.py --scale 0.25     # the same shapes scaled down, for iterating
    python bench/core.py --cases pitts30k-256 --reps 3

A *full evaluation* is: geographic positives (25 m), Recall@{1,5,10,20}, Recall@1%, PSSR
(mean and the search-space fraction for 100% recall), and the geographic error of the top-1
item (histogram and recall against the threshold). Contenders, each run in a fresh Python
process so that its peak memory is its own:

* ``gemm``: the plain float32 GEMM ``queries @ database.T`` of the same shapes; the bound.
* ``vprmetrics``: :func:`vprmetrics.geo.ground_truth.positives_within_radius` +
  :func:`vprmetrics.ranking.engine.rank` (k = 20, exact, tie-aware) + the metric functions.
* ``argsort``: the full float32 distance matrix (one GEMM) + ``np.argsort`` of every row +
  the rank of the first positive read off the sorted rows (same positives as ours).
* ``faiss``: the Visual Geo-localization benchmark's way: ``sklearn`` ``NearestNeighbors``
  radius positives + ``faiss.IndexFlatL2`` top-k search, recall by a per-query ``in1d``.
  k is ``max(20, N of R@1%)`` so it can report R@1%; it cannot report PSSR.

Time is the best of ``--reps`` runs (``time.perf_counter``), after one untimed run under
``tracemalloc`` whose peak is reported; peak resident memory is ``VmHWM`` minus the
resident size after the inputs were loaded (``/proc/self/clear_refs`` resets the mark).

Synthetic data resembles real descriptors: L2-normalised rows, ``place embedding + view +
noise``. Pitts30k-like: 24 database images per place (one per heading) every 10 m along
a smooth random trajectory in UTM metres, queries 0-8 m off the trajectory, about 120
positives per query within 25 m, database stored in trajectory order (as real datasets
are), queries in random order. CVUSA-like: one-to-one pairs, scattered locations.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

N_VALUES = (1, 5, 10, 20)
PERCENT = 1.0
RADIUS_M = 25.0
CONTENDERS = ("gemm", "vprmetrics", "argsort", "faiss", "cli", "vg-process")
PROCESS_CONTENDERS = ("cli", "vg-process")  # whole processes, timed from outside


@dataclass(frozen=True)
class Case:
    """One benchmark shape."""

    name: str
    kind: str  # "pitts", "weak" (positives unrelated to the descriptors) or "cvusa"
    n_database: int
    n_queries: int
    dim: int


CASES: dict[str, Case] = {
    c.name: c
    for c in (
        Case("pitts30k-256", "pitts", 10_000, 6_816, 256),
        Case("pitts30k-4096", "pitts", 10_000, 6_816, 4096),
        Case("pitts30k-16384", "pitts", 10_000, 6_816, 16384),
        Case("weak-4096", "weak", 10_000, 6_816, 4096),
        Case("weak-16384", "weak", 10_000, 6_816, 16384),
        Case("cvusa-4096", "cvusa", 8_884, 8_884, 4096),
    )
}


# --------------------------------------------------------------------------- data


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _trajectory(length_m: float, rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
    """A smooth random path in UTM metres (Pittsburgh, zone 17): arc length -> (E, N)."""
    step = 1.0
    s = np.arange(0.0, length_m + step, step)
    turn = np.cumsum(rng.normal(0.0, 0.02, s.size))  # slowly drifting heading (radians)
    heading = np.convolve(turn, np.ones(25) / 25, mode="same")
    east = 585_000.0 + np.cumsum(np.cos(heading)) * step
    north = 4_477_000.0 + np.cumsum(np.sin(heading)) * step

    def at(arc: np.ndarray) -> np.ndarray:
        return np.stack([np.interp(arc, s, east), np.interp(arc, s, north)], axis=1)

    return at


def _field(arc: np.ndarray, knots: np.ndarray, spacing: float) -> np.ndarray:
    """A place embedding varying smoothly with arc length: knots linearly interpolated."""
    pos = arc / spacing
    i = np.clip(np.floor(pos).astype(np.int64), 0, len(knots) - 2)
    t = (pos - i)[:, None].astype(np.float32)
    return knots[i] * (1 - t) + knots[i + 1] * t


LATENT = 48  # descriptors live near a LATENT-dim subspace, so difficulty does not depend on dim


def _embed(latent: np.ndarray, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Random linear embedding of latent codes into ``dim`` plus a little isotropic noise."""
    proj = rng.standard_normal((latent.shape[1], dim), dtype=np.float32)
    out = latent.astype(np.float32) @ proj
    out += rng.standard_normal(out.shape, dtype=np.float32) * 0.3
    return out


def make_pitts(n_database: int, n_queries: int, dim: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Pitts30k-like data: coordinates (UTM metres) and float32 unit descriptors."""
    rng = np.random.default_rng(seed)
    views, spacing = 24, 10.0
    n_places = -(-n_database // views)
    length = n_places * spacing
    path = _trajectory(length, rng)
    knot_spacing = 30.0
    knots = rng.standard_normal((int(length / knot_spacing) + 2, LATENT), dtype=np.float32)
    view_vec = rng.standard_normal((views, LATENT), dtype=np.float32) * 0.7

    db_arc = np.repeat(np.arange(n_places) * spacing, views)[:n_database]
    db_view = np.tile(np.arange(views), n_places)[:n_database]
    db = _field(db_arc, knots, knot_spacing) + view_vec[db_view]
    db += rng.standard_normal(db.shape, dtype=np.float32) * 0.35
    db_xy = path(db_arc)

    q_places = -(-n_queries // views)
    q_arc = np.repeat(rng.uniform(0, length - spacing, q_places), views)[:n_queries]
    q_view = np.tile(np.arange(views), q_places)[:n_queries]
    hard = rng.lognormal(0.0, 0.45, n_queries).astype(np.float32)[:, None]
    q = _field(q_arc, knots, knot_spacing) + view_vec[q_view]
    q += rng.standard_normal(q.shape, dtype=np.float32) * 0.9 * hard
    side = np.repeat(rng.uniform(-8, 8, q_places), views)[:n_queries]
    q_xy = path(q_arc)
    normal = path(q_arc + 0.5) - path(q_arc - 0.5)
    normal = np.stack([-normal[:, 1], normal[:, 0]], axis=1)
    q_xy += normal / np.linalg.norm(normal, axis=1, keepdims=True) * side[:, None]

    both = _embed(np.vstack([db, q]), dim, rng)
    order = rng.permutation(n_queries)  # queries in random order, database in path order
    return {
        "database": _unit(both[:n_database]),
        "queries": _unit(both[n_database:])[order],
        "database_xy": db_xy,
        "queries_xy": q_xy[order],
    }


def make_cvusa(n: int, dim: int, seed: int = 0) -> dict[str, np.ndarray]:
    """CVUSA-like one-to-one pairs: ground query i and aerial database i share a place."""
    rng = np.random.default_rng(seed)
    place = rng.standard_normal((n, LATENT), dtype=np.float32)
    # a few shared "scene types" make negatives correlated, as real ones are
    scene = rng.standard_normal((16, LATENT), dtype=np.float32) * 1.2
    kind = rng.integers(0, 16, n)
    hard = rng.lognormal(0.0, 0.3, n).astype(np.float32)[:, None]
    db = place + scene[kind] + rng.standard_normal((n, LATENT), dtype=np.float32) * 0.4
    q = place + scene[kind] + rng.standard_normal((n, LATENT), dtype=np.float32) * 1.1 * hard
    both = _embed(np.vstack([db, q]), dim, rng)
    xy = np.stack([rng.uniform(200_000, 800_000, n), rng.uniform(3e6, 5e6, n)], axis=1)
    return {"database": _unit(both[:n]), "queries": _unit(both[n:]), "database_xy": xy,
            "queries_xy": xy}  # fmt: skip


def make_weak(n_database: int, n_queries: int, dim: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A weak model: Pitts30k-like geography, descriptors unrelated to it (unit Gaussian
    rows), so d* sits in the dense middle of each query's distances."""
    geo = make_pitts(n_database, n_queries, 8, seed)
    rng = np.random.default_rng(seed + 1)
    geo["database"] = _unit(rng.standard_normal((n_database, dim), dtype=np.float32))
    geo["queries"] = _unit(rng.standard_normal((n_queries, dim), dtype=np.float32))
    return geo


def make_case(case: Case, scale: float) -> dict[str, np.ndarray]:
    nd = max(100, int(case.n_database * scale))
    nq = max(50, int(case.n_queries * scale))
    if case.kind == "pitts":
        return make_pitts(nd, nq, case.dim)
    if case.kind == "weak":
        return make_weak(nd, nq, case.dim)
    return make_cvusa(nd, case.dim)


# --------------------------------------------------------------------------- contenders


def _percent_n(n_database: int) -> int:
    return math.ceil(PERCENT * n_database / 100)


def run_gemm(data: dict[str, np.ndarray], kind: str) -> dict:
    """The bound: one float32 GEMM of the full shape (the scores are not even read)."""
    scores = data["queries"] @ data["database"].T
    return {"checksum": float(scores[0, 0])}


def _positives_ours(data: dict[str, np.ndarray], kind: str):
    from vprmetrics.geo.ground_truth import positives_within_radius
    from vprmetrics.geo.positives import Positives

    if kind == "cvusa":
        return Positives.one_to_one(len(data["queries"]), len(data["database"]))
    return positives_within_radius(data["queries_xy"], data["database_xy"], RADIUS_M)


def run_vprmetrics(data: dict[str, np.ndarray], kind: str) -> dict:
    """This project: exact, tie-aware, streaming (never a queries x database matrix)."""
    from vprmetrics.metrics.geo_error import (
        geo_error_histogram,
        recall_vs_threshold,
        retrieved_geo_error_m,
    )
    from vprmetrics.metrics.recall import recall_at_n, recall_at_percent
    from vprmetrics.ranking.engine import rank

    gt = _positives_ours(data, kind)
    t0 = time.perf_counter()
    facts = rank(data["queries"], data["database"], gt, k=max(N_VALUES))
    rank_s = time.perf_counter() - t0
    r_n = recall_at_n(facts, N_VALUES)
    r_p = recall_at_percent(facts, PERCENT)
    k_q = facts.n_at_or_before_best[facts.has_positive]
    pssr = float(np.mean((facts.n_database - k_q) / facts.n_database))
    space_100 = float(k_q.max() / facts.n_database)
    err = retrieved_geo_error_m(data["queries_xy"], data["database_xy"], facts.topk_ids[:, 0])
    hist = geo_error_histogram(err)
    recall_vs_threshold(data["queries_xy"], data["database_xy"], facts.topk_ids, ns=(1, 5, 10))
    return {
        "R@1": r_n[1],
        "R@20": r_n[20],
        "R@1%": r_p[PERCENT],
        "PSSR": pssr,
        "space@100%": space_100,
        "median_err_m": hist.median_m,
        "positives_per_query": float(gt.counts.mean()),
        "rank_s": rank_s,
    }


def run_argsort(data: dict[str, np.ndarray], kind: str) -> dict:
    """Full float32 distance matrix + argsort of every row (what naive scripts do)."""
    from vprmetrics.metrics.geo_error import (
        geo_error_histogram,
        recall_vs_threshold,
        retrieved_geo_error_m,
    )

    gt = _positives_ours(data, kind)
    q, x = data["queries"], data["database"]
    dist = (x * x).sum(axis=1)[None, :] - 2.0 * (q @ x.T)  # |q|^2 is constant per row
    order = np.argsort(dist, axis=1)
    del dist
    is_pos = np.zeros((q.shape[0], x.shape[0]), dtype=bool)
    is_pos[gt.query_of_entry, gt.ids] = True
    sorted_pos = np.take_along_axis(is_pos, order, axis=1)
    has = sorted_pos.any(axis=1)
    first = np.where(has, sorted_pos.argmax(axis=1), x.shape[0])  # 0-based rank
    out = {f"R@{n}": float(np.mean(first < n)) for n in N_VALUES}
    out["R@1%"] = float(np.mean(first < _percent_n(x.shape[0])))
    k_q = first[has] + 1
    out["PSSR"] = float(np.mean((x.shape[0] - k_q) / x.shape[0]))
    out["space@100%"] = float(k_q.max() / x.shape[0])
    err = retrieved_geo_error_m(data["queries_xy"], data["database_xy"], order[:, 0])
    out["median_err_m"] = geo_error_histogram(err).median_m
    recall_vs_threshold(data["queries_xy"], data["database_xy"], order[:, :20], ns=(1, 5, 10))
    return out


def run_faiss(data: dict[str, np.ndarray], kind: str) -> dict:
    """The VG benchmark's way: sklearn radius positives + faiss IndexFlatL2 top-k."""
    import faiss
    from sklearn.neighbors import NearestNeighbors

    q, x = data["queries"], data["database"]
    if kind == "cvusa":
        positives = [np.array([i]) for i in range(len(q))]
    else:
        knn = NearestNeighbors(n_jobs=-1).fit(data["database_xy"])
        positives = knn.radius_neighbors(data["queries_xy"], radius=RADIUS_M, return_distance=False)
    k = max(max(N_VALUES), _percent_n(len(x)))
    index = faiss.IndexFlatL2(q.shape[1])
    index.add(x)
    _, predictions = index.search(q, k)
    cutoffs = sorted({*N_VALUES, _percent_n(len(x))})
    recalls = np.zeros(len(cutoffs))
    for q_idx, pred in enumerate(predictions):
        for i, n in enumerate(cutoffs):
            if np.any(np.isin(pred[:n], positives[q_idx])):
                recalls[i:] += 1
                break
    recall = dict(zip(cutoffs, recalls / len(q), strict=True))
    top1 = predictions[:, 0]
    err = np.linalg.norm(data["queries_xy"] - data["database_xy"][top1], axis=1)
    return {
        "R@1": float(recall[1]),
        "R@20": float(recall[20]),
        "R@1%": float(recall[_percent_n(len(x))]),
        "median_err_m": float(np.median(err)),
    }


def _process_command(contender: str, kind: str, data_dir: Path, out: Path) -> list[str]:
    """The command line of a whole-process contender on the files in ``data_dir``."""
    if contender == "cli":  # the full report: every metric, bootstrap intervals, JSON
        files = ["--queries", str(data_dir / "queries.npy"), "--database",
                 str(data_dir / "database.npy")]  # fmt: skip
        if kind == "cvusa":
            files.append("--one-to-one")
        else:
            files += ["--query-utm", str(data_dir / "queries_xy.npy"), "--database-utm",
                      str(data_dir / "database_xy.npy")]  # fmt: skip
        return [sys.executable, "-m", "vprmetrics.cli", "evaluate", *files, "--json", str(out)]
    return [sys.executable, __file__, "--vg-script", kind, str(data_dir)]


def vg_script(kind: str, data_dir: Path) -> int:
    """The VG benchmark's evaluation as one process: load, sklearn positives, faiss top-k,
    recall loop, print the recalls."""
    data = {p.stem: np.load(p) for p in sorted(data_dir.glob("*.npy"))}
    print(json.dumps(run_faiss(data, kind)))
    return 0


def run_process(contender: str, kind: str, data_dir: Path, reps: int) -> tuple[list[float], dict]:
    """Wall times of ``reps`` fresh processes of a whole-process contender."""
    times, result = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        for _ in range(reps):
            cmd = _process_command(contender, kind, data_dir, out)
            t0 = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            times.append(time.perf_counter() - t0)
            if done.returncode != 0:
                raise RuntimeError(done.stderr)
        if contender == "cli":
            report = json.loads(out.read_text())
            result = {"R@1": report["recall_at_n"]["1"], "R@1%": report["recall_at_percent"]["1"]}
        else:
            result = json.loads(done.stdout.strip().splitlines()[-1])
    return times, result


RUNNERS: dict[str, Callable[[dict[str, np.ndarray], str], dict]] = {
    "gemm": run_gemm,
    "vprmetrics": run_vprmetrics,
    "argsort": run_argsort,
    "faiss": run_faiss,
}


# --------------------------------------------------------------------------- measurement


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def worker(case_name: str, contender: str, data_dir: Path, reps: int) -> dict:
    """Run one contender on one case in this (fresh) process; return its measurements."""
    case = CASES[case_name]
    data = {p.stem: np.load(p) for p in sorted(data_dir.glob("*.npy"))}
    if contender in PROCESS_CONTENDERS:
        times, result = run_process(contender, case.kind, data_dir, reps)
        gemm_times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            run_gemm(data, case.kind)
            gemm_times.append(time.perf_counter() - t0)
        return {
            "case": case_name, "contender": contender, "seconds": min(times),
            "all_seconds": times, "gemm_seconds": min(gemm_times),
            "traced_peak_mb": float("nan"), "rss_peak_extra_mb": float("nan"), "result": result,
        }  # fmt: skip
    runner = RUNNERS[contender]
    runner({k: v[:64] if k.startswith("queries") else v for k, v in data.items()}, case.kind)
    rss0 = _status_kb("VmRSS")
    reset = _reset_peak_rss()
    tracemalloc.start()
    result = runner(data, case.kind)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        timed = runner(data, case.kind)
        times.append(time.perf_counter() - t0)
        if "rank_s" in timed:
            result["rank_s"] = min(result["rank_s"], timed["rank_s"])
    hwm = _status_kb("VmHWM")
    gemm_times = []  # the bound again, in this process and these conditions
    for _ in range(reps):
        t0 = time.perf_counter()
        run_gemm(data, case.kind)
        gemm_times.append(time.perf_counter() - t0)
    return {
        "case": case_name,
        "contender": contender,
        "seconds": min(times),
        "all_seconds": times,
        "gemm_seconds": min(gemm_times),
        "traced_peak_mb": traced_peak / 2**20,
        "rss_peak_extra_mb": (hwm - rss0) / 1024 if reset else float("nan"),
        "result": result,
    }


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    import threadpoolctl

    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    blas = ", ".join(
        f"{i['internal_api']} {i['version']} ({i.get('architecture', '?')}, "
        f"{i['num_threads']} threads)"
        for i in threadpoolctl.threadpool_info()
        if i["user_api"] == "blas"
    )
    env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))}
    return {
        "date": datetime.date.today().isoformat(),
        "cpu": f"{cpu}, {os.cpu_count()} logical cores",
        "python": platform.python_version(),
        "numpy": f"{np.__version__}, BLAS {blas}",
        "env": " ".join(f"{k}={v}" for k, v in sorted(env.items())) or "(none)",
    }


def _table(rows: list[dict], sizes: dict[str, tuple[int, int, int]]) -> str:
    by = {(r["case"], r["contender"]): r for r in rows}
    lines = [
        "| case | contender | seconds | GEMM s (same process) | x GEMM | argsort / this "
        "| rank() only: s (x GEMM) "
        "| peak RSS extra (MB) | tracemalloc peak (MB) | R@1 | R@1% |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in dict.fromkeys(r["case"] for r in rows):
        nd, nq, dim = sizes[case]
        argsort = by.get((case, "argsort"))
        for contender in CONTENDERS:
            r = by.get((case, contender))
            if r is None:
                continue
            ratio = r["seconds"] / r["gemm_seconds"]
            vs = argsort["seconds"] / r["seconds"] if argsort else float("nan")
            res = r["result"]
            only = ""
            if "rank_s" in res:
                only = f"{res['rank_s']:.2f} ({res['rank_s'] / r['gemm_seconds']:.2f})"
            lines.append(
                f"| {case} ({nq}x{nd}, d={dim}) | {contender} | {r['seconds']:.2f} | "
                f"{r['gemm_seconds']:.2f} | "
                f"{ratio:.2f} | {vs:.2f} | {only} | {r['rss_peak_extra_mb']:.0f} | "
                f"{r['traced_peak_mb']:.0f} | {res.get('R@1', float('nan')):.4f} | "
                f"{res.get('R@1%', float('nan')):.4f} |"
            )
        lines.append(
            f"| {case} | (a {nq}x{nd} float32 matrix) | | | | | | {nq * nd * 4 / 2**20:.0f} | | | |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--contenders", nargs="+", default=list(CONTENDERS[:4]), choices=CONTENDERS)
    parser.add_argument("--reps", type=int, default=2, help="timed runs (best is kept)")
    parser.add_argument("--scale", type=float, default=1.0, help="scale the sizes (iterating)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--worker", nargs=3, metavar=("CASE", "CONTENDER", "DATA_DIR"))
    parser.add_argument("--vg-script", nargs=2, metavar=("KIND", "DATA_DIR"))
    args = parser.parse_args(argv)

    if args.vg_script:
        return vg_script(args.vg_script[0], Path(args.vg_script[1]))
    if args.worker:
        case_name, contender, data_dir = args.worker
        print(json.dumps(worker(case_name, contender, Path(data_dir), args.reps)))
        return 0

    info = machine()
    info["load"] = "load average before: " + open("/proc/loadavg").read().split(" ", 3)[2]
    for key, value in info.items():
        print(f"{key:>7}: {value}")
    rows, sizes = [], {}
    with tempfile.TemporaryDirectory(prefix="vprbench-") as tmp:
        for name in args.cases:
            case = CASES[name]
            data = make_case(case, args.scale)
            sizes[name] = (len(data["database"]), len(data["queries"]), case.dim)
            case_dir = Path(tmp) / name
            case_dir.mkdir()
            for key, value in data.items():
                np.save(case_dir / f"{key}.npy", value)
            del data
            for contender in args.contenders:
                cmd = [sys.executable, __file__, "--reps", str(args.reps), "--worker", name,
                       contender, str(case_dir)]  # fmt: skip
                out = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if out.returncode != 0:
                    print(out.stderr, file=sys.stderr)
                    return 1
                row = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(
                    f"{name:>14} {contender:>10}: {row['seconds']:7.2f} s "
                    f"(runs {', '.join(f'{t:.2f}' for t in row['all_seconds'])}), "
                    f"RSS +{row['rss_peak_extra_mb']:.0f} MB, "
                    f"traced {row['traced_peak_mb']:.0f} MB, GEMM {row['gemm_seconds']:.2f} s, "
                    f"{row['result']}",
                    flush=True,
                )
    info["load"] += ", after: " + open("/proc/loadavg").read().split(" ", 3)[2]
    print(f"   load: {info['load']} (15-minute averages; 2 cores)")
    print()
    print(_table(rows, sizes))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
