"""``vprmetrics evaluate``: score descriptors, from raw arrays or against a protocol.

    vprmetrics evaluate --queries Q.npy --database D.npy \\
        --query-utm QU.npy --database-utm DU.npy --radius 25 --json out.json --plots plots/
    vprmetrics evaluate --protocol pitts30k-test --dataset-root DIR --submission S.npz

Nothing is written unless every metric was computed, and the outputs are committed together
(all replaced or none; see :func:`vprmetrics.files.commit_files`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from vprmetrics.checks import as_coordinates, as_cutoffs, as_percentages, check_shape
from vprmetrics.cli._scale import add_scale_arguments, open_database, sharded_ranker
from vprmetrics.errors import InputError
from vprmetrics.files import InterruptedAfterCommit, check_targets
from vprmetrics.geo.ground_truth import positives_within_radius
from vprmetrics.geo.positives import NO_POSITIVE_RULES, Positives
from vprmetrics.input_limits import MAX_N_RESAMPLES, MAX_RECALL_AT, check_top_k
from vprmetrics.metrics.recall import PERCENT_CONVENTIONS
from vprmetrics.metrics.ties import TIE_POLICIES
from vprmetrics.npyio import load_npy
from vprmetrics.ranking.distances import METRICS
from vprmetrics.ranking.engine import BACKENDS
from vprmetrics.report.evaluation import EvaluationSettings, evaluate
from vprmetrics.report.writers import console_summary, write_outputs

__all__ = ["add_parser", "run"]


def _int_list(text: str) -> list[int]:
    try:
        values = as_cutoffs([float(v) for v in text.split(",") if v.strip()], "N")  # type: ignore[misc]
    except (ValueError, OverflowError, InputError) as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list like 1,5,10 ({err})") from None
    if values[-1] > MAX_RECALL_AT:
        raise argparse.ArgumentTypeError(
            f"N = {values[-1]} is more than the limit of {MAX_RECALL_AT}; use "
            "--recall-at-percent for large cut-offs"
        )
    return values


def _percent_list(text: str) -> list[float]:
    try:
        return as_percentages([float(v) for v in text.split(",") if v.strip()], "K")
    except (ValueError, OverflowError, InputError) as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list like 1,5,10 ({err})") from None


def _bounded_int(low: int, high: int, example: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not an integer, e.g. {example}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside [{low}, {high}], e.g. {example}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number, e.g. 25") from None
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive finite number, e.g. 25")
    return value


def _output_path(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("the path is empty; give a file name, e.g. report.json")
    if "\0" in text:
        raise argparse.ArgumentTypeError(f"{text!r} has a NUL byte; give a plain file name")
    return text


def _raw_inputs(args: argparse.Namespace):
    if args.queries is None or args.database is None:
        raise InputError(
            "give --queries Q.npy and --database D.npy, or --protocol with --submission"
        )
    queries = check_shape(load_npy(args.queries, "queries"), "queries")
    database = open_database(args.database, args)
    modes = [args.one_to_one, args.query_utm is not None, args.query_latlon is not None]
    if sum(modes) != 1:
        raise InputError(
            "give exactly one ground truth: --query-utm/--database-utm, "
            "--query-latlon/--database-latlon (with --radius), or --one-to-one"
        )
    if args.one_to_one:
        return (
            queries,
            database,
            Positives.one_to_one(len(queries), len(database)),
            None,
            None,
            "utm",
        )
    coords = "utm" if args.query_utm is not None else "latlon"
    q_path = args.query_utm if coords == "utm" else args.query_latlon
    d_path = args.database_utm if coords == "utm" else args.database_latlon
    if d_path is None:
        raise InputError(f"--query-{coords} needs --database-{coords} too")
    q_coords = as_coordinates(load_npy(q_path, f"query {coords}", mmap=False), f"query {coords}")
    d_coords = as_coordinates(
        load_npy(d_path, f"database {coords}", mmap=False), f"database {coords}"
    )
    if len(q_coords) != len(queries) or len(d_coords) != len(database):
        raise InputError(
            f"coordinates are {len(q_coords)} queries x {len(d_coords)} database but descriptors "
            f"are {len(queries)} x {len(database)}; give one coordinate row per image"
        )
    radius = _radius(args)
    positives = positives_within_radius(q_coords, d_coords, radius, coords=coords)
    return queries, database, positives, q_coords, d_coords, coords


def _radius(args: argparse.Namespace) -> float:
    """``--radius``, 25 m when not given (raw arrays only: a protocol fixes its own)."""
    return 25.0 if args.radius is None else args.radius


_RAW_ONLY = ("query_utm", "database_utm", "query_latlon", "database_latlon", "radius", "one_to_one")


def _protocol_report(args: argparse.Namespace, settings: dict):
    """The evaluation and report of ``--submission`` under ``--protocol`` (warnings to
    stderr), through :func:`vprmetrics.data.scoring.evaluate_submission`."""
    from vprmetrics.data.loaders import open_dataset
    from vprmetrics.data.protocol import load_protocol
    from vprmetrics.data.scoring import evaluate_submission

    raw = [f"--{n.replace('_', '-')}" for n in _RAW_ONLY if getattr(args, n) not in (None, False)]
    if raw:
        raise InputError(
            f"raw-array option {', '.join(raw)} does not apply under --protocol, which fixes "
            f"its own ground truth; drop {raw[0]}, or evaluate without --protocol"
        )
    protocol = load_protocol(args.protocol)
    dataset = open_dataset(protocol, args.dataset_root, args.ground_truth)
    files = args.submission or [args.queries, *(args.database or [None])]
    if any(f is None for f in files):
        raise InputError("with --protocol give --submission S.npz (or --queries and --database)")
    return evaluate_submission(
        protocol,
        dataset,
        files,
        warn=lambda note: print(f"vprmetrics evaluate: warning: {note}", file=sys.stderr),
        **settings,
    )


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse bad output paths before any work (a folder, a repeat, a path under a file)."""
    check_targets([p for p in (args.json, args.per_query, args.markdown) if p is not None])
    if args.plots is not None and Path(args.plots).exists() and not Path(args.plots).is_dir():
        raise InputError(f"--plots {args.plots!r} is a file; give a folder for the PNG plots")


def run(args: argparse.Namespace) -> int:
    _check_outputs(args)
    settings = {
        "metric": args.metric,
        "ties": args.ties,
        "backend": args.backend,
        "progress": args.progress,
        "seed": args.seed,
        "n_resamples": args.n_resamples,
        "ranker": sharded_ranker(args),
    }
    for name in ("recall_at", "recall_at_percent", "percent_convention", "no_positive"):
        value = getattr(args, name)
        if value is not None:
            settings[name] = value
    if args.protocol:
        ev, report = _protocol_report(args, settings)
    else:
        queries, database, positives, q_coords, d_coords, coords = _raw_inputs(args)
        check_top_k(len(queries), max(settings.get("recall_at") or EvaluationSettings.recall_at))
        ev = evaluate(
            queries,
            database,
            positives,
            query_coords=q_coords,
            database_coords=d_coords,
            coords=coords,
            **settings,
        )
        report = {"positive_radius_m": None if args.one_to_one else _radius(args), **ev.report}
    if args.label:
        report["label"] = args.label
    written = write_outputs(
        report,
        ev.per_query_rows() if args.per_query else None,
        json_path=args.json,
        csv_path=args.per_query,
        markdown_path=args.markdown,
        plots_dir=args.plots,
        evaluation=ev,
    )
    try:
        print(console_summary(report))
    except KeyboardInterrupt:
        raise InterruptedAfterCommit() from None  # the outputs are already written
    for path in written:
        print(f"wrote {path}")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "evaluate",
        help="score descriptors: Recall@N, Recall@K%%, PSSR, geographic error, CIs",
        description="Score query descriptors against database descriptors exactly, from raw "
        ".npy arrays with coordinates, or from a submission against a named protocol.",
    )
    src = p.add_argument_group("descriptors")
    src.add_argument("--queries", metavar="Q.npy", help="(nq, dim) float query descriptors")
    src.add_argument(
        "--database", nargs="+", metavar="D.npy", help="(n, dim) database: .npy, shards, folder"
    )
    src.add_argument("--submission", nargs="+", metavar="FILE", help="S.npz, or Q.npy D.npy")
    gt = p.add_argument_group("ground truth (raw arrays)")
    gt.add_argument("--query-utm", metavar="QU.npy", help="(nq, 2) easting, northing in metres")
    gt.add_argument("--database-utm", metavar="DU.npy", help="(n, 2) easting, northing")
    gt.add_argument("--query-latlon", metavar="QL.npy", help="(nq, 2) WGS84 lat, lon degrees")
    gt.add_argument("--database-latlon", metavar="DL.npy", help="(n, 2) WGS84 lat, lon")
    gt.add_argument("--radius", type=_positive_float, help="positive radius in metres (25)")
    gt.add_argument("--one-to-one", action="store_true", help="query i pairs database row i")
    proto = p.add_argument_group("protocol")
    proto.add_argument("--protocol", metavar="NAME", help="a protocol name (vprmetrics protocols)")
    proto.add_argument("--dataset-root", metavar="DIR", help="the dataset folder")
    proto.add_argument("--ground-truth", metavar="GT.npz", help="precomputed ids and coordinates")
    m = p.add_argument_group("metrics")
    m.add_argument("--metric", choices=METRICS, default="l2", help="distance (default l2)")
    m.add_argument("--ties", choices=TIE_POLICIES, default="expected", help="tie policy")
    m.add_argument("--recall-at", type=_int_list, metavar="N,...", help="default 1,5,10,20")
    m.add_argument("--recall-at-percent", type=_percent_list, metavar="K,...", help="default 1")
    m.add_argument("--percent-convention", choices=list(PERCENT_CONVENTIONS), help="default ceil")
    m.add_argument("--no-positive", choices=NO_POSITIVE_RULES, help="default miss")
    m.add_argument("--backend", choices=BACKENDS, default="numpy", help="GEMM backend")
    m.add_argument(
        "--seed", type=_bounded_int(0, 2**63 - 1, "0"), default=0, help="bootstrap seed (0)"
    )
    m.add_argument(
        "--n-resamples",
        type=_bounded_int(1, MAX_N_RESAMPLES, "1000"),
        default=1000,
        help=f"bootstrap resamples (1000, at most {MAX_N_RESAMPLES})",
    )
    m.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: when stderr is a terminal)",
    )
    add_scale_arguments(p)
    out = p.add_argument_group("outputs")
    out.add_argument("--json", type=_output_path, metavar="OUT.json", help="the full report")
    out.add_argument("--per-query", type=_output_path, metavar="OUT.csv", help="one row per query")
    out.add_argument("--markdown", type=_output_path, metavar="OUT.md", help="a readable summary")
    out.add_argument(
        "--plots", type=_output_path, metavar="DIR", help="PNG plots (needs matplotlib)"
    )
    out.add_argument("--label", metavar="NAME", help="the model's name, shown in every title")
    p.set_defaults(func=run)
    return p
