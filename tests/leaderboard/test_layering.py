"""The leaderboard sits on top of report and data: only cli and hosting import it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "vprmetrics"


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def _wing(path: Path) -> str:
    rel = path.relative_to(PACKAGE).parts
    return rel[0] if len(rel) > 1 else ""


def test_only_cli_and_hosting_import_the_leaderboard():
    for path in PACKAGE.rglob("*.py"):
        wing = _wing(path)
        imported = {m.split(".")[1] for m in _imports(path) if m.startswith("vprmetrics.")}
        if wing not in ("leaderboard", "cli", "hosting"):
            assert not imported & {"leaderboard", "hosting"}, path
        if wing == "leaderboard":
            assert not imported & {"cli", "hosting"}, path
        if wing == "hosting":
            assert "cli" not in imported, path
