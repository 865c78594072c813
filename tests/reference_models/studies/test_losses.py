"""The losses study at tiny scale: per-epoch validation columns, test column from vprmetrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reference_models.studies.losses import LEARNING_RATES
from tests.reference_models.studies.study_runs import from_reports, run_study, table_rows

pytest.importorskip("torch")


def test_published_learning_rates():
    assert {k: v[0] for k, v in LEARNING_RATES.items()} == {
        "adam": 1e-5,
        "adamw": 1e-5,
        "sgd": 1e-2,
    }


def test_losses_tiny(tiny, tmp_path, monkeypatch):
    results, md, reports = run_study("losses", tiny, tmp_path / "losses", monkeypatch)
    rows = table_rows(md)
    n_epochs = max(len(c["epochs"]) for c in results["cells"].values())
    assert rows[0] == ["loss", "optimizer", "lr"] + [
        f"val {e:02d} R@1/R@5" for e in range(n_epochs)
    ] + ["test R@1", "test R@5"]
    assert [(r[0], r[1]) for r in rows[1:]] == [
        ("multi-similarity", "adam"),
        ("contrastive", "sgd"),
    ]
    for cell, row in zip(results["cells"].values(), rows[1:], strict=True):
        assert from_reports(cell["test"]["recall"], reports)
        assert float(row[-2]) == pytest.approx(cell["test"]["recall"]["1"], abs=5e-4)
        assert cell["lr"] == {"adam": 1e-3, "sgd": 1e-2}[cell["optimizer"]]
        assert len(cell["epochs"]) >= 1
        config = json.loads((Path(cell["run_dir"]) / "config.json").read_text())
        assert config["model"] == "resnet18-avggem"  # average pooling, then GeM
    assert (tmp_path / "losses" / "curves.png").is_file()
