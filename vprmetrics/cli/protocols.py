"""``vprmetrics protocols``: list the dataset protocols, or print one.

vprmetrics protocols              # name, layout, sizes, radius, status
vprmetrics protocols show NAME    # the protocol file, its path and sha256
"""

from __future__ import annotations

import argparse

from vprmetrics.data.protocol import Protocol, list_protocols, load_protocol

__all__ = ["add_parser", "format_table", "run"]


def _count(side) -> str:
    if side.count is None:
        return "?"
    return f"{side.count:,}" + ("" if side.count_verified else "*")


def _threshold(p: Protocol) -> str:
    if p.one_to_one:
        return "1:1 pair"
    text = f"{p.radius_m:g} m"
    if p.max_heading_deg is not None:
        text += f", {p.max_heading_deg:g} deg"
    return text


def format_table(protocols: list[Protocol]) -> str:
    """A plain-text table of protocols (``*`` marks an unverified count, ``?`` an unknown).

    >>> print(format_table([load_protocol("pitts30k-test")]).splitlines()[2])
    pitts30k-test  vg        10,000    6,816  25 m      miss         verified
    """
    header = ("name", "layout", "database", "queries", "positive", "no-positive", "status")
    rows = [
        (
            p.name,
            p.layout,
            _count(p.database),
            _count(p.queries),
            _threshold(p),
            p.no_positive,
            p.status,
        )
        for p in protocols
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {2, 3}

    def line(r):
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    sep = "  ".join("-" * w for w in widths)
    footer = "* count from a paper, not verified; ? count unknown"
    return "\n".join([line(header), sep, *map(line, rows), "", footer])


def run(args: argparse.Namespace) -> int:
    if args.action == "show":
        p = load_protocol(args.name)
        assert p.path is not None
        print(f"# {p.path}")
        print(f"# sha256 {p.sha256}")
        print(p.path.read_text(encoding="utf-8"), end="")
        return 0
    print(format_table(list_protocols()))
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "protocols",
        help="list the dataset protocols or show one",
        description="List the dataset protocols (name, layout, sizes, threshold) or print one.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    show = actions.add_parser("show", help="print one protocol file")
    show.add_argument("name", help="protocol name (see 'vprmetrics protocols') or a .toml path")
    actions.add_parser("list", help="list the protocols (the default)")
    parser.set_defaults(func=run, action=None)
    return parser
