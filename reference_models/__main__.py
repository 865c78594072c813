"""``python -m reference_models SUBCOMMAND``: one module per subcommand.

Each module listed in :data:`SUBCOMMANDS` defines ``add_parser(subparsers)``, which adds its
subparser and sets ``func`` (``func(args) -> int``). Adding ``train`` or ``export`` is one
entry here and one module; modules import torch only when they run, so ``--help`` works
without it. Errors of vprmetrics (and unreadable files) become one line on stderr with exit
code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from vprmetrics.cli import OneLineErrorParser
from vprmetrics.errors import VPRMetricsError

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

#: Subcommand name -> module defining ``add_parser(subparsers)``.
SUBCOMMANDS: dict[str, str] = {
    "describe": "reference_models.describe",
    "train": "reference_models.train",
    "export": "reference_models.export",
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    parser = OneLineErrorParser(
        prog="python -m reference_models",
        description="Reference VPR models: describe, train and export.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineErrorParser)
    for module in SUBCOMMANDS.values():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (VPRMetricsError, OSError) as err:
        print(f"reference_models {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
