"""The heads study at tiny scale: table shape, numbers from vprmetrics, CRN two-stage, resume."""

from __future__ import annotations

import pytest

from tests.reference_models.studies.study_runs import (
    forbid_training,
    from_reports,
    run_study,
    table_rows,
)

pytest.importorskip("torch")


def test_heads_tiny(tiny, tmp_path, monkeypatch):
    out = tmp_path / "heads"
    results, md, reports = run_study("heads", tiny, out, monkeypatch)
    rows = table_rows(md)
    assert rows[0][:4] == ["head", "model", "dim", "ms/image"] and len(rows[0]) == 12
    assert [r[0] for r in rows[1:]] == ["netvlad", "crn"]
    cells = results["cells"]
    for cell in cells.values():
        assert cell["test"]["scored_by"] == "vprmetrics.report.evaluation.evaluate"
        assert from_reports(cell["test"]["recall"], reports)
        assert from_reports(cell["shifted"]["recall"], reports)
        assert cell["descriptor_dim"] == 64 * 256
    # CRN: stage 2 of the two-stage schedule on top of this study's NetVLAD cell
    assert cells["crn"]["schedule"] == "crn-two-stage"
    assert cells["crn"]["run_dir"].endswith("crn/crn")
    assert (out / "runs" / "crn" / "netvlad-for-crn.pt").is_file()
    assert not (out / "runs" / "crn" / "netvlad").exists()  # stage 1 reused, not retrained
    assert {"recall.png", "heatmaps.png"} <= {p.name for p in out.iterdir()}

    forbid_training(monkeypatch)
    _, md2, _ = run_study("heads", tiny, out, monkeypatch)
    assert md2 == md
