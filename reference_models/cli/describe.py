"""``python -m reference_models describe``: descriptor size, parameters, size and FLOPs.

The numbers follow the counting rules of Berton et al., "Deep Visual Geo-localization
Benchmark", CVPR 2022, Table 3 (:func:`reference_models.models.accounting.describe_model`).
Example::

    python -m reference_models describe --model resnet18-netvlad --json
"""

from __future__ import annotations

import argparse
import json

from reference_models.cli.options import parse_input_size
from reference_models.models.registry import FLOPS_MODES

__all__ = ["add_parser", "run"]


def run(args: argparse.Namespace) -> int:
    """Print the description of ``args.model`` as ``key: value`` lines or one JSON object."""
    from vprmetrics.errors import require

    require("torch", "models", "describing reference models")
    from reference_models.models.accounting import describe_model

    stats = describe_model(
        args.model,
        input_size=parse_input_size(args.input) if args.input else None,
        view=args.view,
        mode=args.mode,
    ).as_dict()
    if args.json:
        print(json.dumps(stats))
    else:
        width = max(map(len, stats))
        for key, value in stats.items():
            print(f"{key:<{width}}  {value}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``describe`` subcommand (torch is imported only when it runs)."""
    parser = subparsers.add_parser(
        "describe",
        help="descriptor size, parameters, size (MB) and GFLOPs of a reference model",
        description=(
            "Account a reference model with the counting rules of the VG benchmark "
            "(Berton et al. CVPR 2022, Table 3)."
        ),
    )
    parser.add_argument("--model", required=True, help="registry name, e.g. resnet18-netvlad")
    parser.add_argument("--input", help="input size HxW (default: the model's, e.g. 480x640)")
    parser.add_argument("--view", help="input view of multi-view models (default: the first)")
    parser.add_argument(
        "--mode",
        choices=FLOPS_MODES,
        help="train/eval mode for FLOPs (default: the mode of the published numbers)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)
    return parser
