"""``python -m reference_models export``: a trained run -> submission ``.npz`` (+ TorchScript).

Example::

    python -m reference_models export --run runs/gem --protocol synthtown \\
        --dataset-root DATA --out gem.npz --torchscript gem_extractor.pt

What is written: :func:`reference_models.export.export_submission` and
:func:`reference_models.export.export_torchscript`.
"""

from __future__ import annotations

import argparse
import json

from reference_models.cli.options import parse_input_size, positive_int

__all__ = ["add_parser", "run"]


def run(args: argparse.Namespace) -> int:
    """Export the submission (and the TorchScript extractor when asked); print a summary."""
    from vprmetrics.errors import require

    require("torch", "models", "exporting reference-model descriptors")
    from reference_models.export import branch_paths, render_submission, render_torchscript
    from vprmetrics.files import check_targets, commit_files

    targets = [args.out]
    if args.torchscript:  # a cross-view run writes one file per branch beside this name
        targets += [args.torchscript, *branch_paths(args.torchscript).values()]
    check_targets(targets)  # before any work: a bad path fails in a second, not an hour
    data, summary = render_submission(
        args.run,
        args.protocol,
        args.dataset_root,
        checkpoint=args.checkpoint,
        device=args.device,
        batch_size=args.batch_size,
        progress=not args.quiet,
    )
    outputs = [(args.out, data)]
    if args.torchscript:
        size = parse_input_size(args.input_size) if args.input_size else None
        scripts = render_torchscript(
            args.run, args.torchscript, checkpoint=args.checkpoint, input_size=size
        )
        outputs += scripts
        paths = [str(p) for p, _ in scripts]
        summary["torchscript"] = paths if summary["task"] == "cross_view" else paths[0]
    commit_files(outputs)  # the submission and the TorchScript files together, or none
    print(json.dumps({"path": str(args.out), **summary}))
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``export`` subcommand (torch is imported only when it runs)."""
    parser = subparsers.add_parser(
        "export",
        help="describe a protocol's images with a trained run: submission .npz (+ TorchScript)",
        description="Write the descriptors of a protocol's database and queries, in protocol "
        "order with their ids, in the vprmetrics submission format.",
    )
    parser.add_argument("--run", required=True, help="training run folder (from train --out)")
    parser.add_argument("--protocol", required=True, help="protocol name, e.g. synthtown")
    parser.add_argument("--dataset-root", required=True, help="dataset folder")
    parser.add_argument("--out", required=True, help="submission file to write (.npz)")
    parser.add_argument("--checkpoint", default="best", help="best (default), last or a path")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    parser.add_argument("--batch-size", type=positive_int, help="images per forward pass")
    parser.add_argument("--torchscript", metavar="PATH", help="also save a traced extractor")
    parser.add_argument("--input-size", help="HxW for the traced extractor (default: the run's)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)
    return parser
