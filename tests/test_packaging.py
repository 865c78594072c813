"""Every package is listed in pyproject.toml, and a built wheel ships the protocols."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _listed() -> set[str]:
    return set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )


def test_every_subpackage_is_listed():
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("vprmetrics", "reference_models")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert found <= _listed(), f"add {sorted(found - _listed())} to [tool.setuptools] packages"


@pytest.mark.slow
def test_wheel_contains_every_protocol(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    wheel = next(tmp_path.glob("vprmetrics-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for toml in (ROOT / "protocols").glob("*.toml"):
        assert f"vprmetrics/_protocols/{toml.name}" in names
