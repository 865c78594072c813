"""The ``vprmetrics`` command line: one module per subcommand.

Each subcommand module defines ``add_parser(subparsers)`` (which sets ``func``) and is
listed in :data:`SUBCOMMANDS`. Every :class:`~vprmetrics.errors.VPRMetricsError` (and a
missing or unreadable file) becomes one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from vprmetrics.errors import VPRMetricsError

__all__ = ["SUBCOMMANDS", "OneLineErrorParser", "build_parser", "main"]

SUBCOMMANDS: tuple[str, ...] = ("evaluate", "validate", "protocols")


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse with usage errors on one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from vprmetrics import __version__

    parser = OneLineErrorParser(
        prog="vprmetrics",
        description="Exact metrics for visual place recognition and cross-view geo-localization.",
    )
    parser.add_argument("--version", action="version", version=f"vprmetrics {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineErrorParser)
    for name in SUBCOMMANDS:
        importlib.import_module(f"vprmetrics.cli.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except VPRMetricsError as err:
        print(f"vprmetrics {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"vprmetrics {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vprmetrics {args.command}: interrupted; no output was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
