"""Resumable study cells: each cell runs once, its result is kept as JSON, a rerun reads it.

A study is a grid of cells (one training run and its evaluation, say). ``CellRunner(out)``
keeps ``out/cells/<name>.json`` per finished cell, written atomically, so a study stopped
half-way resumes where it stopped; it prints one progress line per cell. ``write_study``
writes ``results.json`` (every cell) and ``results.md`` (the study's table).

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> runner = CellRunner(out, log=lambda line: None)
>>> runner.run("a", lambda: {"r1": 0.5})["r1"]
0.5
>>> runner.run("a", lambda: {"r1": 0.9})["r1"]  # finished: read back, not re-run
0.5
>>> runner.ran, runner.reused  # run once, read back once
(['a'], ['a'])
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from vprmetrics.errors import InputError
from vprmetrics.files import write_atomic

__all__ = ["CellRunner", "markdown_table", "write_study"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+-]*$")


def _default_log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class CellRunner:
    """Run named cells once; keep each result as ``<out>/cells/<name>.json``."""

    def __init__(self, out: str | Path, *, log: Callable[[str], None] = _default_log) -> None:
        self.out = Path(out)
        self.dir = self.out / "cells"
        self.log = log
        self.ran: list[str] = []
        self.reused: list[str] = []
        self.total: int | None = None

    def path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise InputError(f"cell name {name!r} must be letters, digits and _.=+- only")
        return self.dir / f"{name}.json"

    def run(self, name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The result of cell ``name``: read back when finished before, else ``fn()``."""
        path = self.path(name)
        done = len(self.ran) + len(self.reused) + 1
        count = f"{done}/{self.total}" if self.total else f"{done}"
        if path.is_file():
            try:
                result = json.loads(path.read_text())
            except (OSError, ValueError):
                result = None
            if isinstance(result, dict):
                self.reused.append(name)
                self.log(f"[{count}] {name}: done before, read back")
                return result
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
        result = {**result, "seconds": round(seconds, 2)}
        write_atomic(path, json.dumps(result, indent=2, sort_keys=True).encode())
        self.ran.append(name)
        summary = ", ".join(
            f"{k} {v:.4g}" for k, v in result.items() if isinstance(v, float) and k != "seconds"
        )
        self.log(f"[{count}] {name}: {summary or 'done'} ({seconds:.1f} s)")
        return result


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table of ``rows`` under ``columns`` (floats to 4 significant digits).

    >>> print(markdown_table(["a", "b"], [[1, 0.25]]))
    | a | b |
    |---|---|
    | 1 | 0.25 |
    """

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_study(out: str | Path, results: dict[str, Any], markdown: str) -> None:
    """Write ``results.json`` and ``results.md`` into ``out`` (each atomically)."""
    out = Path(out)
    write_atomic(out / "results.json", json.dumps(results, indent=2, sort_keys=True).encode())
    write_atomic(out / "results.md", (markdown.rstrip() + "\n").encode())
