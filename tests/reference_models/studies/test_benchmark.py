"""The benchmark study at tiny scale: sections, Table 3 columns, numbers from vprmetrics."""

from __future__ import annotations

import json

import pytest

from reference_models.studies.benchmark import TABLE3, _cells
from tests.reference_models.studies.study_runs import from_reports, run_study, table_rows

pytest.importorskip("torch")


def test_small_plan_covers_the_three_sections():
    plan = _cells("small")
    sections = [s for s, _, _ in plan]
    assert sections.count("grid") == 4 and sections.count("mining") == 3
    assert sections.count("resize") == 4
    assert {o["mining"] for s, _, o in plan if s == "mining"} == {"full", "partial", "random"}


def test_benchmark_tiny(tiny, tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        results, md, reports = run_study(
            "benchmark", tiny, tmp_path / "bench", monkeypatch, "--threads", "1"
        )
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    for name in results["cells"]:
        config = json.loads((tmp_path / "bench" / "runs" / name / "config.json").read_text())
        assert config["threads"] == 1
    assert results["sections"] == {"grid": ["resnet18-gem"], "resize": ["resize-50"]}
    rows = table_rows(md)
    grid_header = rows[0]
    assert grid_header[-6:] == ["dim", "GFLOPs", "MB", "paper dim", "paper GFLOPs", "paper MB"]
    grid_row = rows[1]
    dim, gflops, mb = TABLE3["resnet18-gem"]
    assert grid_row[-6:] == [str(dim), f"{gflops:.4g}", f"{mb:.4g}"] * 2
    for cell in results["cells"].values():
        assert from_reports(cell["test"]["recall"], reports)
    assert results["cells"]["resize-50"]["options"]["resize_percent"] == 50.0
