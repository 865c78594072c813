"""The ``vprmetrics`` command line: one module per subcommand.

Each subcommand module defines ``add_parser(subparsers)`` (which sets ``func``) and is
listed in :data:`SUBCOMMANDS`. Every :class:`~vprmetrics.errors.VPRMetricsError` (and a
missing or unreadable file) becomes one line on stderr and exit code 2, never a traceback.
:func:`build_cli` and :func:`run_cli` serve ``python -m reference_models`` as well.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence

from vprmetrics.errors import VPRMetricsError
from vprmetrics.files import InterruptedAfterCommit

__all__ = [
    "SUBCOMMANDS",
    "OneLineErrorParser",
    "build_cli",
    "build_parser",
    "main",
    "printable",
    "run_cli",
]

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
        self.exit(2, f"{self.prog}: error: {printable(message)} (see {self.prog} --help)\n")


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


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`KeyboardInterrupt` like Ctrl-C does, so a run that is
    stopped cleans up its temporary files (main thread only; restored afterwards)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    old = {n: signal.signal(getattr(signal, n), _interrupt) for n in names}
    try:
        yield
    finally:
        for n, handler in old.items():
            signal.signal(getattr(signal, n), handler)


def printable(text: str) -> str:
    r"""``text`` with line breaks and other control characters escaped (argparse echoes the
    raw arguments, which may hold them), so an error stays one line on any terminal.

    >>> printable("unrecognized arguments: a\nb\x1e")
    'unrecognized arguments: a\\nb\\x1e'
    """
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _one_line(err: BaseException) -> str:
    text = printable(" ".join(str(err).split()))
    return text if len(text) <= 600 else text[:597] + "..."


def run_cli(parser: argparse.ArgumentParser, name: str, argv: Sequence[str] | None) -> int:
    """Parse ``argv``, run the subcommand, and turn expected errors into one line + exit 2.

    An interrupt (Ctrl-C, SIGTERM, SIGHUP) exits 130; outputs are committed together, so it
    leaves them all as they were, or (when it arrived during the final renames) all new.
    """
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with _terminate_as_interrupt(), warnings.catch_warnings():
            # numpy's overflow/invalid-value warnings on hostile numbers would add lines to
            # the one-line error that the input check gives for them
            warnings.simplefilter("ignore", RuntimeWarning)
            return int(args.func(args) or 0)
    except (VPRMetricsError, OSError) as err:
        print(f"{name} {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            f"{name} {args.command}: error: out of memory (the inputs are within the limits "
            "of vprmetrics.input_limits but not of this machine); run it where there is more "
            "memory, or give memory-mapped .npy files",
            file=sys.stderr,
        )
        return 2
    except InterruptedAfterCommit:
        print(f"{name} {args.command}: interrupted after every output was written", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"{name} {args.command}: interrupted; no output was changed", file=sys.stderr)
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
