"""The house's rules, read from the code: the wings import one way, the core stays light.

Data flows geo -> ranking -> metrics -> report -> data -> leaderboard -> the entry points
(cli, compat, hosting); a module may import its own wing, any wing to its left, and the
shared modules (errors, checks, npyio, files, input_limits, _version), never a wing to its
right. The import graph is read from the source with :mod:`ast` (imports inside functions
count too), so a lazy import cannot hide a wrong-way dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vprmetrics"

#: The wings in the order data flows; entries of one tuple sit at the same level.
ORDER: tuple[tuple[str, ...], ...] = (
    ("geo",),
    ("ranking",),
    ("metrics",),
    ("report",),
    ("data",),
    ("leaderboard",),
    ("cli", "compat", "hosting"),
)
SHARED = {"errors", "checks", "npyio", "files", "input_limits", "_version"}
LEVEL = {wing: level for level, wings in enumerate(ORDER) for wing in wings}
HEAVY = ("torch", "torchvision", "faiss", "matplotlib", "pandas", "dask", "sklearn", "tqdm")


def _wing(module: str) -> str:
    """``vprmetrics.ranking.engine`` -> ``ranking``; the package itself -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _type_only_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes inside ``if TYPE_CHECKING:`` blocks (never run)."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            ids.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return ids


def _imports(
    source: str, module: str, is_package: bool = False, *, runtime_only: bool = False
) -> set[str]:
    """Every ``vprmetrics...`` name the module imports, resolved to absolute names
    (``from a.b import c`` gives ``a.b`` and ``a.b.c``: ``c`` may be a submodule);
    ``runtime_only`` leaves out the imports under ``if TYPE_CHECKING:``."""
    tree = ast.parse(source)
    skip = _type_only_nodes(tree) if runtime_only else set()
    here = module.split(".")
    package = here if is_package else here[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("vprmetrics"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], base]).strip(".")
            if not base.startswith("vprmetrics"):
                continue
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return found


def _graph(runtime_only: bool = False) -> dict[str, set[str]]:
    return {
        _module_name(p): _imports(
            p.read_text(), _module_name(p), p.name == "__init__.py", runtime_only=runtime_only
        )
        for p in PACKAGE.rglob("*.py")
    }


def _wrong_way(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        src = _wing(module)
        for target in sorted(targets):
            dst = _wing(target)
            if src == "" or dst in SHARED or dst == src:
                continue  # the package __init__ re-exports everything
            if src in SHARED and dst != "":
                problems.append(f"{module} (shared) imports the wing {target}")
            elif dst == "":
                problems.append(f"{module} imports the package __init__ ({target})")
            elif dst in LEVEL and src in LEVEL and LEVEL[dst] > LEVEL[src]:
                problems.append(f"{module} ({src}) imports {target} ({dst}), a wing to its right")
    return problems


def test_every_wing_has_a_place_in_the_order():
    wings = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    wings |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    unplaced = wings - set(LEVEL) - SHARED - {"_protocols"}
    assert not unplaced, f"add {sorted(unplaced)} to ORDER or SHARED in this test"


def test_imports_run_one_way():
    assert _wrong_way(_graph()) == []


def test_the_checker_sees_a_wrong_way_import():
    """The rule itself can fail: a metrics module importing the report wing is caught."""
    graph = {"vprmetrics.metrics.recall": {"vprmetrics.report.evaluation"}}
    assert _wrong_way(graph) == [
        "vprmetrics.metrics.recall (metrics) imports vprmetrics.report.evaluation (report), "
        "a wing to its right"
    ]
    assert _wrong_way({"vprmetrics.errors": {"vprmetrics.ranking.engine"}})
    assert _wrong_way({"vprmetrics.data.submission": {"vprmetrics"}})


def test_imports_inside_functions_and_relative_imports_are_seen():
    source = (
        "from ..report import writers\nfrom . import ties\ndef f():\n    import vprmetrics.cli\n"
    )
    assert _imports(source, "vprmetrics.metrics.recall") == {
        "vprmetrics.report",
        "vprmetrics.report.writers",
        "vprmetrics.metrics",
        "vprmetrics.metrics.ties",
        "vprmetrics.cli",
    }


def test_type_checking_imports_count_for_layering_but_not_for_cycles():
    source = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from vprmetrics.cli import x\n"
    )
    assert "vprmetrics.cli" in _imports(source, "vprmetrics.report.plots")
    assert _imports(source, "vprmetrics.report.plots", runtime_only=True) == set()


def test_no_import_cycle_between_modules():
    """A cycle of imports that run (type-only imports under ``TYPE_CHECKING`` never run)."""
    graph = _graph(runtime_only=True)
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph or nxt == "vprmetrics":
                continue
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join([*stack, node, nxt]))
            if nxt not in state:
                visit(nxt, [*stack, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state and node != "vprmetrics":
            visit(node, [])


def test_core_import_pulls_no_heavy_dependency():
    modules = sorted(m for m in _graph() if not m.endswith("__main__"))
    code = (
        f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_optional_dependency_names_the_extra(monkeypatch):
    from vprmetrics.errors import MissingDependencyError, require

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'vprmetrics\[plots\]'"):
        require("matplotlib", "plots", "plotting")
