"""``vprmetrics validate``: check a submission against a protocol without scoring it.

    vprmetrics validate --protocol pitts30k-test --dataset-root DIR --submission S.npz
    vprmetrics validate --protocol cvusa --ground-truth GT.npz --submission q.npy db.npy

Each problem is one line on stderr with its fix; the exit code is 2 when any is an error.
"""

from __future__ import annotations

import argparse
import sys

from vprmetrics.data.loaders import load_dataset, load_ground_truth_npz
from vprmetrics.data.protocol import load_protocol
from vprmetrics.data.submission import load_submission
from vprmetrics.data.validation import validate_submission

__all__ = ["add_parser", "run"]


def run(args: argparse.Namespace) -> int:
    protocol = load_protocol(args.protocol)
    dataset = None
    if args.dataset_root is not None and args.ground_truth is not None:
        print(
            "vprmetrics validate: error: give --dataset-root or --ground-truth, not both",
            file=sys.stderr,
        )
        return 2
    if args.ground_truth is not None:
        dataset = load_ground_truth_npz(args.ground_truth, protocol)
    elif args.dataset_root is not None:
        dataset = load_dataset(protocol, args.dataset_root)
    # no expected_rows: validate lists every problem, the row counts among them
    submission = load_submission(
        args.submission[0] if len(args.submission) == 1 else args.submission
    )
    problems = validate_submission(submission, protocol, dataset)
    for note in dataset.warnings if dataset is not None else ():
        print(f"vprmetrics validate: warning: {note}", file=sys.stderr)
    for problem in problems:
        print(f"vprmetrics validate: {problem}", file=sys.stderr)
    n_errors = sum(p.severity == "error" for p in problems)
    if n_errors:
        print(
            f"submission NOT valid for protocol {protocol.name}: {n_errors} error(s)",
            file=sys.stderr,
        )
        return 2
    q, db = submission.queries, submission.database
    checked = "dataset" if dataset is not None else "protocol counts only"
    print(
        f"submission OK for protocol {protocol.name}: {q.shape[0]} queries, "
        f"{db.shape[0]} database, dim {q.shape[1]}, {q.dtype} "
        f"({len(problems)} warning(s); checked against the {checked})"
    )
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "validate",
        help="check a submission against a protocol without scoring it",
        description="Check a descriptor submission: counts, ids and order, dims, dtype, "
        "finite values. Exit code 2 when a problem is fatal.",
    )
    parser.add_argument("--protocol", required=True, help="protocol name or .toml path")
    parser.add_argument("--dataset-root", help="dataset folder (checks ids and their order)")
    parser.add_argument("--ground-truth", help="GT.npz with ids and coordinates instead")
    parser.add_argument(
        "--submission",
        required=True,
        nargs="+",
        metavar="FILE",
        help="S.npz (queries, database[, query_ids, database_ids]) or queries.npy database.npy",
    )
    parser.set_defaults(func=run)
    return parser
