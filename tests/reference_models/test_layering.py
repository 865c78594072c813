"""The import structure of ``reference_models``: layers, no cycles, torch only where needed.

Layers, lowest first: ``models``, ``images`` and ``synthtown`` (import no other part);
``inference``; ``training``; ``export``; ``studies``; ``cli`` and ``demo``. A module imports
only from its own part or a lower layer, and the imports between modules form no cycle.
"""

import ast
import subprocess
import sys
from pathlib import Path

import reference_models

ROOT = Path(reference_models.__file__).parent
LAYER = {
    "models": 0,
    "images": 0,
    "synthtown": 0,
    "inference": 1,
    "training": 2,
    "export": 3,
    "studies": 4,
    "cli": 5,
    "demo": 5,
    "__main__": 6,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> set[str]:
    """The absolute module names ``path`` imports, anywhere in its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _imports() -> dict[str, set[str]]:
    """Module -> the ``reference_models`` modules it imports."""
    return {
        _module_name(path): {m for m in _imported(path) if m.startswith("reference_models.")}
        for path in ROOT.rglob("*.py")
    }


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def test_every_part_has_a_layer():
    parts = {_part(module) for module in _imports()} - {"reference_models"}
    assert parts <= set(LAYER), f"give {sorted(parts - set(LAYER))} a layer in LAYER"


def test_modules_import_only_lower_layers():
    wrong = [
        (module, target)
        for module, targets in _imports().items()
        if module != "reference_models"
        for target in targets
        if _part(target) != _part(module) and LAYER[_part(target)] >= LAYER[_part(module)]
    ]
    assert not wrong


def test_no_import_cycle():
    graph = _imports()
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                raise AssertionError(" -> ".join([*path, module, target]))
            if target not in state:
                visit(target, [*path, module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_the_core_never_imports_reference_models():
    core = ROOT.parent / "vprmetrics"
    assert not [
        path
        for path in core.rglob("*.py")
        if any(m.split(".")[0] == "reference_models" for m in _imported(path))
    ]


def test_light_modules_do_not_import_torch():
    code = (
        "import sys, reference_models, reference_models.cli, reference_models.cli.options, "
        "reference_models.models.registry, reference_models.training.config, "
        "reference_models.training; reference_models.cli.build_parser(); "
        "print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
