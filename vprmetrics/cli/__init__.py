"""The ``vprmetrics`` command line: one module per subcommand.

Each subcommand module defines ``add_parser(subparsers)`` (which sets ``func``) and is
listed in :data:`SUBCOMMANDS`. Every :class:`~vprmetrics.errors.VPRMetricsError` (and a
missing or unreadable file) becomes one line on stderr and exit code 2, never a traceback.
:func:`build_cli` and :func:`run_cli` serve ``python -m reference_models`` as well.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable, Sequence

from vprmetrics.errors import VPRMetricsError

__all__ = ["SUBCOMMANDS", "OneLineErrorParser", "build_cli", "build_parser", "main", "run_cli"]

SUBCOMMANDS: tuple[str, ...] = (
    "evaluate",
    "validate",
    "protocols",
    "visualize",
    "search_tradeoff",
    "leaderboard",
)


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse with usage errors on one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_cli(
    prog: str, description: str, modules: Iterable[str], version: str | None = None
) -> argparse.ArgumentParser:
    """A parser whose subcommands come from ``modules`` (each with ``add_parser``)."""
    parser = OneLineErrorParser(prog=prog, description=description)
    if version:
        parser.add_argument("--version", action="version", version=version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineErrorParser)
    for module in modules:
        importlib.import_module(module).add_parser(sub)
    return parser


def run_cli(parser: argparse.ArgumentParser, name: str, argv: Sequence[str] | None) -> int:
    """Parse ``argv``, run the subcommand, and turn expected errors into one line + exit 2."""
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (VPRMetricsError, OSError) as err:
        print(f"{name} {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name} {args.command}: interrupted; no output was written", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    from vprmetrics._version import __version__

    return build_cli(
        "vprmetrics",
        "Exact metrics for visual place recognition and cross-view geo-localization.",
        [f"vprmetrics.cli.{name}" for name in SUBCOMMANDS],
        version=f"vprmetrics {__version__}",
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(build_parser(), "vprmetrics", argv)


if __name__ == "__main__":
    sys.exit(main())
