"""The core stays light: importing vprmetrics loads numpy and scipy only."""

import subprocess
import sys

HEAVY = ("torch", "torchvision", "faiss", "matplotlib", "pandas", "dask", "sklearn", "tqdm")


def test_core_import_pulls_no_heavy_dependency():
    code = (
        "import sys, vprmetrics, vprmetrics.cli, vprmetrics.data.loaders, vprmetrics.data.submission;"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_optional_dependency_names_the_extra(monkeypatch):
    import pytest

    from vprmetrics.errors import MissingDependencyError, require

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'vprmetrics\[plots\]'"):
        require("matplotlib", "plots", "plotting")
