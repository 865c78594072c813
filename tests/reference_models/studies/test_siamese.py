"""The Siamese study at tiny scale: crop then mask cells, pair accuracy, geo error histogram."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from reference_models.studies.siamese import CROPS
from tests.reference_models.studies.study_runs import (
    from_reports,
    run_study,
    table_rows,
    write_class_maps,
)

pytest.importorskip("torch")


def test_eight_crop_settings_include_the_best_published_one():
    assert len(set(CROPS)) == 8 and (20, 5) in CROPS and (0, 0) in CROPS


def test_siamese_tiny(tiny, tmp_path, monkeypatch):
    write_class_maps(tiny)
    out = tmp_path / "siamese"
    results, md, reports = run_study("siamese", tiny, out, monkeypatch)
    rows = table_rows(md)
    assert rows[0][:5] == ["cell", "U %", "B %", "pair accuracy", "pair ranking"]
    assert [r[0] for r in rows[1:]] == ["U20-B5", "U20-B5-remove-sky"]
    for cell in results["cells"].values():
        assert from_reports(cell["test"]["recall"], reports)
        assert 0.0 <= cell["pair_accuracy"] <= 1.0 and 0.0 <= cell["pair_ranking"] <= 1.0
        hist = cell["test"]["geo_error_m"]
        assert sum(hist["counts"]) <= cell["test"]["n_queries"]
    # the masked copy: sky rows (the top quarter) are the mean colour, the rest untouched
    some = sorted((out / "masked" / "remove-sky" / "images" / "test" / "queries").glob("*.jpg"))[0]
    masked = np.asarray(Image.open(some).convert("RGB")).astype(int)
    original = np.asarray(Image.open(tiny / some.relative_to(out / "masked" / "remove-sky")))
    h = masked.shape[0]
    assert np.abs(masked[: h // 4 - 1] - [124, 116, 104]).mean() <= 3  # JPEG round trip
    assert np.abs(masked[h // 2 + 1 :] - original[h // 2 + 1 :].astype(int)).mean() <= 10
    assert np.abs(original[: h // 4 - 1] - [124, 116, 104]).mean() > 30
    assert {"recall.png", "geo_error.png"} <= {p.name for p in out.iterdir()}


def test_siamese_without_class_maps_stops_before_training(tiny, tmp_path, capsys):
    from reference_models.cli import main

    argv = [
        "study",
        "siamese",
        "--dataset-root",
        str(tiny),
        "--out",
        str(tmp_path / "s"),
        "--scale",
        "tiny",
        "--device",
        "cpu",
        "--protocol",
        "tinytown",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "class map" in err and "--class-maps" in err and "--masks" in err
    assert not (tmp_path / "s" / "cells").exists()
