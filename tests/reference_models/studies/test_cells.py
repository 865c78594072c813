"""Study cells run once and are read back; the study CLI dispatches by name."""

from __future__ import annotations

import json

from reference_models.studies.cells import CellRunner, markdown_table, write_study


def test_a_finished_cell_is_not_run_again_and_a_broken_one_is(tmp_path):
    lines: list[str] = []
    calls: list[str] = []
    runner = CellRunner(tmp_path, log=lines.append)
    runner.total = 2
    runner.run("a", lambda: calls.append("a") or {"r1": 0.25})
    (tmp_path / "cells" / "b.json").write_text("{not json")  # killed mid-write elsewhere
    runner.run("b", lambda: calls.append("b") or {"r1": 0.5})
    again = CellRunner(tmp_path, log=lines.append)
    assert again.run("a", lambda: calls.append("a2") or {"r1": 0.9})["r1"] == 0.25
    assert again.run("b", lambda: calls.append("b2") or {"r1": 0.9})["r1"] == 0.5
    assert calls == ["a", "b"]
    assert lines[0].startswith("[1/2] a: r1 0.25") and lines[1].startswith("[2/2] b: r1 0.5")
    assert "read back" in lines[2] and "read back" in lines[3]


def test_cell_names_cannot_escape_the_study_folder(tmp_path):
    import pytest

    from vprmetrics.errors import InputError

    with pytest.raises(InputError, match="cell name"):
        CellRunner(tmp_path).path("../x")


def test_write_study_writes_json_and_markdown(tmp_path):
    write_study(tmp_path, {"cells": {"a": 1}}, markdown_table(["a"], [[0.123456]]))
    assert json.loads((tmp_path / "results.json").read_text()) == {"cells": {"a": 1}}
    assert (tmp_path / "results.md").read_text() == "| a |\n|---|\n| 0.1235 |\n"
