"""The examples in the docstrings of ``reference_models`` run and give what they show."""

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import reference_models

TORCH_FREE = {
    "reference_models.cli.options",
    "reference_models.models.registry",
    "reference_models.training.config",
}


def _modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(reference_models.__path__, "reference_models."):
        spec = importlib.util.find_spec(info.name)
        if spec and spec.origin and ">>>" in Path(spec.origin).read_text():
            names.append(info.name)
    return sorted(names)


MODULES = _modules_with_examples()


def test_examples_are_found():
    assert TORCH_FREE <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name not in TORCH_FREE:
        pytest.importorskip("torch")
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
