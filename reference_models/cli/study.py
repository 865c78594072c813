"""``python -m reference_models study NAME``: one seed paper's experiment, end to end.

Example::

    python -m reference_models study heads --dataset-root DATA --out runs/heads --scale small

Every study takes ``--dataset-root``, ``--out``, ``--scale`` (:data:`SCALES`),
``--device`` and ``--threads`` (torch CPU threads; by default torch's own count, one per
core; ``--threads 1`` lets two studies share a 2-core machine); its own options come
from its module's ``add_arguments`` (:data:`reference_models.studies.STUDIES`). A rerun with
the same ``--out`` reads back the finished cells
(:class:`reference_models.studies.cells.CellRunner`) and runs only the rest.
"""

from __future__ import annotations

import argparse
import importlib
import json

from reference_models.cli.options import positive_int
from reference_models.studies import SCALES, STUDIES

__all__ = ["add_parser", "run"]


def run(args: argparse.Namespace) -> int:
    """Run the chosen study through its cell runner; print where its results are."""
    from reference_models.studies.cells import CellRunner

    module = importlib.import_module(STUDIES[args.study])
    cells = CellRunner(args.out)
    summary = module.run(args, cells)
    print(json.dumps({"study": args.study, "out": str(args.out), **summary}))
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``study NAME`` with one sub-subcommand per study."""
    parser = subparsers.add_parser(
        "study",
        help="re-run a seed paper's experiment (pssr, siamese, losses, heads, benchmark)",
        description="Run one seed paper's central experiment on SynthTown or the real dataset; "
        "finished cells are kept and a rerun resumes.",
    )
    studies = parser.add_subparsers(dest="study", required=True, metavar="NAME")
    for name, module_name in STUDIES.items():
        module = importlib.import_module(module_name)
        sub = studies.add_parser(name, help=(module.__doc__ or name).strip().splitlines()[0])
        sub.add_argument("--dataset-root", required=True, help="dataset folder")
        sub.add_argument("--out", required=True, help="study folder (cells, tables, plots)")
        sub.add_argument("--scale", choices=SCALES, default="small", help="default small")
        sub.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
        sub.add_argument(
            "--threads", type=positive_int, help="torch CPU threads (default: one per core)"
        )
        module.add_arguments(sub)
        sub.set_defaults(func=run)
    return parser
