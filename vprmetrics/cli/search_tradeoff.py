"""``vprmetrics search-tradeoff``: recall, matching time and memory of faiss indexes.

    vprmetrics search-tradeoff --queries Q.npy --database D.npy \\
        --query-utm QU.npy --database-utm DU.npy --radius 25 \\
        --index "IVF1024,Flat" --index "PQ32" --index "IVF1024,PQ32 nprobe=8" \\
        --index "HNSW32" --out tradeoff/

Each ``--index`` is a faiss index-factory string, optionally followed by search parameters
(``nprobe=16``, ``efSearch=64``). Writes ``tradeoff.json``, ``tradeoff.md`` and (with
matplotlib) ``tradeoff.png`` into ``--out``, only once every index was measured.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vprmetrics.cli.evaluate import _int_list, _percent_list, _raw_inputs
from vprmetrics.files import write_atomic
from vprmetrics.geo.positives import NO_POSITIVE_RULES
from vprmetrics.metrics.recall import PERCENT_CONVENTIONS
from vprmetrics.metrics.ties import TIE_POLICIES
from vprmetrics.ranking.distances import METRICS
from vprmetrics.report.writers import render_json

__all__ = ["add_parser", "run"]


def run(args: argparse.Namespace) -> int:
    from vprmetrics.report.tradeoff import (
        parse_index,
        render_tradeoff_markdown,
        render_tradeoff_plot,
        search_tradeoff,
    )

    specs = [parse_index(s) for s in args.index]  # bad strings fail before any work
    queries, database, positives, *_ = _raw_inputs(args)
    report = search_tradeoff(
        queries,
        database,
        positives,
        specs,
        metric=args.metric,
        recall_at=args.recall_at,
        recall_at_percent=args.recall_at_percent,
        percent_convention=args.percent_convention,
        ties=args.ties,
        no_positive=args.no_positive,
        train_size=args.train_size,
        seed=args.seed,
        threads=args.threads,
    )
    markdown = render_tradeoff_markdown(report)
    print(markdown)
    if args.out:
        outputs = {"tradeoff.json": render_json(report), "tradeoff.md": markdown.encode()}
        try:
            outputs["tradeoff.png"] = render_tradeoff_plot(report)
        except ImportError as err:
            print(f"vprmetrics search-tradeoff: no plot ({err})")
        for name, data in outputs.items():
            write_atomic(Path(args.out) / name, data)
            print(f"wrote {Path(args.out) / name}")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "search-tradeoff",
        help="recall, matching time and memory of faiss indexes against exact search",
        description="Build each faiss index, search it, and score its result lists with the "
        "same metrics as exact search (PSSR is undefined for a truncated list).",
    )
    p.add_argument("--queries", metavar="Q.npy", required=True, help="(nq, dim) queries")
    p.add_argument("--database", nargs=1, metavar="D.npy", required=True, help="(n, dim)")
    p.add_argument(
        "--index",
        action="append",
        required=True,
        metavar="FACTORY [PARAMS]",
        help="a faiss index-factory string, e.g. 'IVF1024,PQ32 nprobe=8'; repeat",
    )
    gt = p.add_argument_group("ground truth (as in evaluate)")
    gt.add_argument("--query-utm", metavar="QU.npy")
    gt.add_argument("--database-utm", metavar="DU.npy")
    gt.add_argument("--query-latlon", metavar="QL.npy")
    gt.add_argument("--database-latlon", metavar="DL.npy")
    gt.add_argument("--radius", type=float, default=25.0, help="positive radius in metres (25)")
    gt.add_argument("--one-to-one", action="store_true", help="query i pairs database row i")
    m = p.add_argument_group("metrics")
    m.add_argument("--metric", choices=METRICS, default="l2")
    m.add_argument("--ties", choices=TIE_POLICIES, default="expected", help="for exact search")
    m.add_argument("--recall-at", type=_int_list, default=[1, 5, 10, 20], metavar="N,...")
    m.add_argument("--recall-at-percent", type=_percent_list, default=[1.0], metavar="K,...")
    m.add_argument("--percent-convention", choices=list(PERCENT_CONVENTIONS), default="ceil")
    m.add_argument("--no-positive", choices=NO_POSITIVE_RULES, default="miss")
    m.add_argument("--train-size", type=int, default=200_000, help="training sample (200000)")
    m.add_argument("--seed", type=int, default=0, help="training-sample seed (0)")
    m.add_argument("--threads", type=int, help="faiss threads (default: faiss's own)")
    p.add_argument("--out", metavar="DIR", help="write tradeoff.json, .md and .png here")
    p.set_defaults(func=run, workers=None, scheduler=None)
    return p
