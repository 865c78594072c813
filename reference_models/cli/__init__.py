"""``python -m reference_models SUBCOMMAND``: one module per subcommand, each thin.

:data:`SUBCOMMANDS` lists ``describe``, ``train``, ``export`` and ``study``; each module defines
``add_parser(subparsers)``, which adds its subparser and sets ``func`` (``func(args) ->
int``) calling the library (:mod:`reference_models.models.accounting`,
:mod:`reference_models.training.loop`, :mod:`reference_models.export`). Building the parser
does not import torch: the subcommands import it when they run, so ``--help`` works
without it. Errors of vprmetrics (and unreadable files) become one line on stderr with exit
code 2 (:func:`vprmetrics.cli.run_cli`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from vprmetrics.cli import build_cli, run_cli

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

#: Subcommand name -> module defining ``add_parser(subparsers)``.
SUBCOMMANDS: dict[str, str] = {
    "describe": "reference_models.cli.describe",
    "train": "reference_models.cli.train",
    "export": "reference_models.cli.export",
    "study": "reference_models.cli.study",
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    return build_cli(
        "python -m reference_models",
        "Reference VPR models: describe, train, export and the seed papers' studies.",
        SUBCOMMANDS.values(),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; return its exit code."""
    return run_cli(build_parser(), "reference_models", argv)
