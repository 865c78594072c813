"""Running a study at ``--scale tiny`` on the tiny test town, with a spy on ``evaluate``.

``run_study(name, data, out, monkeypatch)`` runs ``python -m reference_models study NAME``
(in process) and returns (results.json, results.md, the reports ``evaluate`` returned), so
a test can check that every test-set number of the table came from ``vprmetrics``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


def run_study(
    name: str, data: Path, out: Path, monkeypatch: Any, *extra: str
) -> tuple[dict, str, list[dict]]:
    from reference_models.cli import main
    from vprmetrics.report import evaluation

    reports: list[dict] = []
    real = evaluation.evaluate

    def spy(*args: Any, **kw: Any) -> Any:
        ev = real(*args, **kw)
        reports.append(ev.report)
        return ev

    monkeypatch.setattr(evaluation, "evaluate", spy)
    argv = [
        "study",
        name,
        "--dataset-root",
        str(data),
        "--out",
        str(out),
        "--scale",
        "tiny",
        "--device",
        "cpu",
        "--protocol",
        "tinytown",
        *extra,
    ]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    return results, (out / "results.md").read_text(), reports


def table_rows(markdown: str) -> list[list[str]]:
    """The cells of every Markdown table row (header first, separator rows left out)."""
    rows = []
    for line in markdown.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def from_reports(recall: dict[str, float], reports: list[dict]) -> bool:
    """Whether ``recall`` is exactly the ``recall_at_n`` of one of the spied reports."""
    return any(r["recall_at_n"] == recall for r in reports)


def write_class_maps(root: Path) -> None:
    """A class map per image of the tiny town: sky on top, road below, a middle band of
    one class per image."""
    rng = np.random.default_rng(0)
    for path in sorted((root / "images").rglob("*.jpg")):
        with Image.open(path) as img:
            w, h = img.size
        classes = np.full((h, w), 3, np.uint8)
        classes[: h // 4] = 0
        classes[h // 4 : h // 2] = rng.integers(1, 6)
        target = root / "class_maps" / path.relative_to(root).with_suffix(".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(classes).save(target)


def forbid_training(monkeypatch: Any) -> None:
    """Make any further training run fail (a rerun must read every cell back)."""
    from reference_models.training import loop

    def fail(*args: Any, **kw: Any) -> None:
        raise AssertionError("a finished cell was trained again")

    monkeypatch.setattr(loop, "train", fail)
