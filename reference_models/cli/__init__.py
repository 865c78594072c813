"""``python -m reference_models SUBCOMMAND``: one module per subcommand.

Each module listed in :data:`SUBCOMMANDS` defines ``add_parser(subparsers)``, which adds its
subparser and sets ``func`` (``func(args) -> int``). Adding ``train`` or ``export`` is one
entry here and one module; modules import torch only when they run, so ``--help`` works
without it. Errors of vprmetrics (and unreadable files) become one line on stderr with exit
code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vprmetrics.cli import build_cli, run_cli

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

#: Subcommand name -> module defining ``add_parser(subparsers)``.
SUBCOMMANDS: dict[str, str] = {
    "describe": "reference_models.describe",
    "train": "reference_models.train",
    "export": "reference_models.export",
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    return build_cli(
        "python -m reference_models",
        "Reference VPR models: describe, train and export.",
        SUBCOMMANDS.values(),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; return its exit code."""
    return run_cli(build_parser(), "reference_models", argv)


if __name__ == "__main__":
    sys.exit(main())
