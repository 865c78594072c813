"""A San Francisco-size run: 1,050,000 database images from memory-mapped files on disk.

Usage::

    python bench/scale.py                         # every case (about 30 minutes on 2 cores)
    python bench/scale.py --cases sweep           # 598 queries x 100k, 300k, 1.05M; D=256, 1024
    python bench/scale.py --dims 256 --sizes 100000 --queries 598 --workers 0

Synthetic R-SF-like data (San Francisco has 1.05 M database images and 598 queries in the
Visual Geo-localization benchmark, Berton et al., CVPR 2022): 24 views per place, a place
every 10 m along a line in UTM metres, unit-norm float32 descriptors ``embed(place code +
view code + noise)``, written once in chunks to ``--data-dir`` (``db_<D>.npy``: 1.05M x 1024
float32 is 4.3 GB) and memory-mapped; smaller databases are prefixes of the same file.
Queries lie within the first 100,000 database rows' stretch, so every query has about
120 positives within 25 m at every database size and the work per query stays the same.

Every measurement runs in a fresh Python process (``--one``):

* ``gemm``: the float32 GEMM of the same shapes, blocked over the memory map (65,536
  rows at a time) so that it never holds queries x database; the bound.
* ``rank``: :func:`vprmetrics.ranking.engine.rank` (k = 20) on the memory map.
* ``rank --workers N``: :func:`vprmetrics.ranking.shards.rank_sharded` on a
  ``LocalCluster`` of N single-threaded worker processes, each scanning row ranges of
  the same file (cluster start-up not timed, reported apart).

Before timing, the process reads the memory map once (the file is then in the page
cache, as it is for every later contender), so times are compute, not disk. Peak memory
is the peak anonymous resident memory (``RssAnon``, sampled every 20 ms; file-backed pages
of the memory map are the page cache, not the process's memory) above the level after
the inputs were opened, summed over the worker processes for ``--workers``, and the
``tracemalloc`` peak of the ranking process.
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
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np

N_FULL = 1_050_000
N_QUERIES = 10_000  # queries generated (a case uses the first ones)
VIEWS, SPACING_M, LATENT, RADIUS_M, K = 24, 10.0, 48, 25.0, 20
CASES = {
    # name: (queries, dims, database sizes, workers)
    "sweep": (598, (256, 1024), (100_000, 300_000, N_FULL), (0,)),
    "workers": (598, (256, 1024), (N_FULL,), (2,)),
    "queries10k": (10_000, (256,), (N_FULL,), (0, 2)),
    "queries10k-1024": (10_000, (1024,), (N_FULL,), (0,)),
}


# --------------------------------------------------------------------------- data


def _rows(start: int, stop: int, dim: int, codes: np.ndarray, proj: np.ndarray, seed: int):
    """Database rows ``start .. stop`` (deterministic per chunk)."""
    rng = np.random.default_rng([seed, start])
    i = np.arange(start, stop)
    latent = codes[i // VIEWS] + codes[-VIEWS:][i % VIEWS] * 0.7
    latent += rng.standard_normal(latent.shape, dtype=np.float32) * 0.35
    x = latent @ proj
    x += rng.standard_normal(x.shape, dtype=np.float32) * 0.3
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def make_data(data_dir: Path, dims, seed: int = 0) -> None:
    """Write ``db_<D>.npy``, ``q_<D>.npy`` and the coordinates once (skipped if present)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_places = -(-N_FULL // VIEWS)
    codes = rng.standard_normal((n_places + VIEWS, LATENT), dtype=np.float32)
    codes[1:n_places] = 0.6 * codes[: n_places - 1] + 0.8 * codes[1:n_places]  # smooth path
    db_xy = np.c_[np.arange(N_FULL) // VIEWS * SPACING_M, np.zeros(N_FULL)]
    if not (data_dir / "db_xy.npy").exists():
        np.save(data_dir / "db_xy.npy", db_xy)
    span = 100_000 // VIEWS - 1  # queries near the first 100k rows' places
    q_place = rng.uniform(0, span, N_QUERIES)
    q_xy = np.c_[q_place * SPACING_M, rng.uniform(-8, 8, N_QUERIES)]
    if not (data_dir / "q_xy.npy").exists():
        np.save(data_dir / "q_xy.npy", q_xy)
    for dim in dims:
        proj = np.random.default_rng([seed, dim]).standard_normal((LATENT, dim), dtype=np.float32)
        path = data_dir / f"db_{dim}.npy"
        if not path.exists():
            tmp = path.with_suffix(".part.npy")
            out = np.lib.format.open_memmap(tmp, "w+", np.float32, (N_FULL, dim))
            for a in range(0, N_FULL, 65_536):
                out[a : a + 65_536] = _rows(a, min(N_FULL, a + 65_536), dim, codes, proj, seed)
            out.flush()
            del out
            tmp.rename(path)
        qpath = data_dir / f"q_{dim}.npy"
        if not qpath.exists():
            p = np.round(q_place).astype(np.int64)
            qrng = np.random.default_rng([seed, dim, 1])
            latent = codes[p] + codes[-VIEWS:][qrng.integers(0, VIEWS, p.size)] * 0.7
            hard = qrng.lognormal(0.0, 0.45, (p.size, 1)).astype(np.float32)
            latent += qrng.standard_normal(latent.shape, dtype=np.float32) * 0.9 * hard
            q = latent @ proj
            q /= np.linalg.norm(q, axis=1, keepdims=True)
            np.save(qpath, q.astype(np.float32))


# --------------------------------------------------------------------------- one run


def _rss_anon(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


class PeakSampler:
    """Peak of the summed RssAnon of this process (or of ``pids``), every 20 ms."""

    def __init__(self, pids=("self",)):
        self.pids, self.peak, self._stop = list(pids), 0, threading.Event()
        self.base = self._now()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _now(self) -> int:
        return sum(_rss_anon(p) for p in self.pids)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._now())
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._now())


def _gemm_seconds(q: np.ndarray, x: np.ndarray) -> float:
    block = 65_536
    buf = np.empty((q.shape[0], block), dtype=np.float32)
    start = time.perf_counter()
    for a in range(0, x.shape[0], block):
        rows = x[a : a + block]
        np.matmul(q, rows.T, out=buf[:, : rows.shape[0]])
    return time.perf_counter() - start


def run_one(spec: dict) -> dict:
    from vprmetrics.geo.ground_truth import positives_within_radius
    from vprmetrics.metrics.recall import recall_at_n

    data = Path(spec["data_dir"])
    n, nq, dim, workers = spec["n"], spec["queries"], spec["dim"], spec["workers"]
    x = np.load(data / f"db_{dim}.npy", mmap_mode="r")[:n]
    q = np.load(data / f"q_{dim}.npy")[:nq]
    gt = positives_within_radius(
        np.load(data / "q_xy.npy")[:nq], np.load(data / "db_xy.npy")[:n], RADIUS_M
    )
    for a in range(0, n, 65_536):  # touch every page once: the file is then in the page cache
        float(x[a : a + 65_536, 0].sum())
    gemm_s = _gemm_seconds(q, x)
    out = {**spec, "gemm_s": gemm_s, "gflops": 2 * nq * n * dim / gemm_s / 1e9}
    out["mean_positives"] = float(gt.counts.mean())
    if workers:
        import distributed

        from vprmetrics.cli._scale import SHARD_ROWS
        from vprmetrics.ranking.shards import RowRange, rank_sharded, split_rows

        t0 = time.perf_counter()
        with (
            distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=40,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):  # fmt: skip
            out["cluster_start_s"] = time.perf_counter() - t0
            pids = ["self", *(w["pid"] for w in client.run(lambda: {"pid": os.getpid()}).values())]
            parts = workers * max(1, math.ceil(n / (workers * SHARD_ROWS)))
            shards = split_rows(RowRange(str(data / f"db_{dim}.npy"), 0, n), parts)
            with PeakSampler(pids) as mem:
                t0 = time.perf_counter()
                facts = rank_sharded(q, shards, gt, k=K, client=client)
                seconds = time.perf_counter() - t0
            out["shards"] = len(shards)
    else:
        from vprmetrics.ranking.engine import rank

        tracemalloc.start()
        with PeakSampler() as mem:
            t0 = time.perf_counter()
            facts = rank(q, x, gt, k=K, progress=False)
            seconds = time.perf_counter() - t0
        out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    out.update(
        rank_s=seconds,
        x_gemm=seconds / gemm_s,
        ms_per_query=1000 * seconds / nq,
        peak_anon_mb=(mem.peak - mem.base) / 1e6,
        recall_at_1=float(recall_at_n(facts, [1])[1]),
        loadavg_1min=os.getloadavg()[0],
    )
    return out


# --------------------------------------------------------------------------- driver


def _machine() -> dict:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "loadavg_at_start": os.getloadavg(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="minutes"),
    }


def _table(results: list[dict]) -> str:
    head = (
        "| queries x database | D | processes | GEMM s | rank s | x GEMM | ms / query "
        "| peak anon MB | tracemalloc MB | R@1 |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = [
        f"| {r['queries']:,} x {r['n']:,} | {r['dim']} | {r['workers'] or 1} "
        f"| {r['gemm_s']:.2f} | {r['rank_s']:.2f} | {r['x_gemm']:.2f} | {r['ms_per_query']:.2f} "
        f"| {r['peak_anon_mb']:.0f} | {r.get('tracemalloc_peak_mb', float('nan')):.0f} "
        f"| {r['recall_at_1']:.4f} |"
        for r in results
    ]
    return "\n".join([head, *rows])


def plot(results: list[dict], path: Path) -> None:
    """Matching time per query against database size x dimension (seed 003, figure 4a)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for (dim, workers), marker in zip(
        sorted({(r["dim"], r["workers"]) for r in results if r["queries"] == 598}),
        "osD^v", strict=False,
    ):  # fmt: skip
        rs = sorted(
            (r for r in results if (r["dim"], r["workers"], r["queries"]) == (dim, workers, 598)),
            key=lambda r: r["n"],
        )
        label = f"D={dim}" + (f", {workers} workers" if workers else ", 1 process")
        ax.plot([r["n"] * dim for r in rs], [r["ms_per_query"] for r in rs], marker=marker,
                label=label)  # fmt: skip
        gemm = [1000 * r["gemm_s"] / r["queries"] for r in rs]
        if not workers:
            ax.plot([r["n"] * dim for r in rs], gemm, ls=":", color=ax.lines[-1].get_color(),
                    label=f"D={dim} float32 GEMM")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("database size x descriptor dimension")
    ax.set_ylabel("exact matching time per query (ms)")
    ax.set_title("598 queries, exact tie-aware ranking (k = 20)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


TRADEOFF_INDEXES = (
    "Flat", "IVF1024,Flat", "IVF1024,Flat nprobe=16", "PQ32np", "IVF1024,PQ32np nprobe=16",
    "IMI2x8,PQ32np nprobe=64", "HNSW32", "HNSW32 efSearch=64",
)  # fmt: skip


def run_tradeoff(data: Path, n: int, dim: int, out: Path) -> dict:
    """``search_tradeoff`` on the first ``n`` rows (598 queries): the figure-4b study."""
    from vprmetrics.files import write_atomic
    from vprmetrics.geo.ground_truth import positives_within_radius
    from vprmetrics.report.tradeoff import (
        render_tradeoff_markdown,
        render_tradeoff_plot,
        search_tradeoff,
    )

    x = np.load(data / f"db_{dim}.npy", mmap_mode="r")[:n]
    q = np.load(data / f"q_{dim}.npy")[:598]
    gt = positives_within_radius(
        np.load(data / "q_xy.npy")[:598], np.load(data / "db_xy.npy")[:n], RADIUS_M
    )
    report = search_tradeoff(q, x, gt, TRADEOFF_INDEXES, train_size=100_000)
    write_atomic(out.with_suffix(".png"), render_tradeoff_plot(report))
    write_atomic(out.with_suffix(".md"), render_tradeoff_markdown(report).encode())
    write_atomic(out.with_suffix(".json"), json.dumps(report, indent=1).encode())
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/vprmetrics-scale"))
    ap.add_argument("--json", type=Path, default=Path("bench/scale_results.json"))
    ap.add_argument("--plot", type=Path, default=Path("docs/img/scale_matching_time.png"))
    ap.add_argument("--sizes", type=int, nargs="+", help="a case of your own: database sizes")
    ap.add_argument("--dims", type=int, nargs="+", default=[256], help="... its dims")
    ap.add_argument("--queries", type=int, default=598, help="... its queries")
    ap.add_argument("--workers", type=int, nargs="+", default=[0], help="... 0: one process")
    ap.add_argument(
        "--tradeoff",
        type=Path,
        metavar="OUT",
        help="run the index trade-off "
        "(598 queries x 100k, D=256) and write OUT.png, OUT.md, OUT.json instead",
    )
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(json.loads(args.one))))
        return 0
    if args.tradeoff:
        make_data(args.data_dir, [256])
        run_tradeoff(args.data_dir, 100_000, 256, args.tradeoff)
        print(args.tradeoff.with_suffix(".md").read_text())
        return 0
    if args.sizes:
        CASES["custom"] = (args.queries, tuple(args.dims), tuple(args.sizes), tuple(args.workers))
        args.cases = ["custom"]
    specs = [
        {"queries": nq, "dim": d, "n": n, "workers": w, "data_dir": str(args.data_dir)}
        for c in args.cases
        for nq, dims, sizes, workers in [CASES[c]]
        for d in dims
        for n in sizes
        for w in workers
    ]
    t0 = time.perf_counter()
    make_data(args.data_dir, sorted({s["dim"] for s in specs}))
    print(f"data ready in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    previous = json.loads(args.json.read_text()) if args.json.exists() else {}
    results, machine = previous.get("results", []), previous.get("machine", _machine())
    done = {json.dumps({k: r[k] for k in ("queries", "dim", "n", "workers")}) for r in results}
    for spec in specs:
        key = json.dumps({k: spec[k] for k in ("queries", "dim", "n", "workers")})
        if key in done:
            continue
        proc = subprocess.run(
            [sys.executable, __file__, "--one", json.dumps(spec)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            return 1
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(_table(results[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
        args.json.write_text(json.dumps({"machine": machine, "results": results}, indent=1))
    print(_table(results))
    plot(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
