"""The table of constructed submissions: a clear winner, two statistically tied, a weak
one, a collapsed embedding whose number the tie policy decides, and a rejected file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.leaderboard.world import HOSTILE
from vprmetrics.cli import main
from vprmetrics.leaderboard.columns import columns
from vprmetrics.leaderboard.scoring import evaluation_settings, protocol_from_text
from vprmetrics.report.evaluation import EvaluationSettings, evaluate_facts


def _rows(board, sort=None):
    return {r.entry.name: r for r in board.standings(sort=sort).rows}


def test_ranks_mean_something(board):
    st = board.standings()
    assert st.sort.key == "R@1"
    names = [r.entry.name for r in st.rows]
    ranks = {r.entry.name: r.rank for r in st.rows}
    assert names[0] == "winner" and ranks["winner"] == 1
    assert ranks["mid-a"] == ranks["mid-b"] == 2  # statistically tied: they share a rank
    assert ranks[HOSTILE] == 4 and ranks["collapsed"] == 5
    assert set(names[1:3]) == {"mid-a", "mid-b"} and names[3:] == [HOSTILE, "collapsed"]
    rows = _rows(board)
    assert rows["mid-a"].values["R@1"] != rows["mid-b"].values["R@1"]  # a gap, not significant


def test_the_collapsed_embedding_is_flagged_as_decided_by_ties(board):
    rows = _rows(board)
    flagged = {name for name, r in rows.items() if r.ties_decide["R@1"]}
    assert flagged == {"collapsed"}
    rep = rows["collapsed"].report
    bounds = rep["tie_bounds"]["recall_at_n"]["1"]
    assert bounds["optimistic"] == 1.0 and bounds["pessimistic"] == 0.0
    assert rep["recall_at_n"]["1"] == pytest.approx(5 / 400, abs=0.01)  # chance, not 100%
    assert any("identical" in w for w in rep["warnings"])


def test_rejected_entries_are_shown_never_ranked(board, capsys):
    assert "nan" not in _rows(board)
    assert main(["leaderboard", "show", str(board.store.path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in out["rejected"]] == ["nan"]
    assert "NaN" in out["rejected"][0]["reason"] and "\n" not in out["rejected"][0]["reason"]
    assert [r["rank"] for r in out["rows"]] == [1, 2, 2, 4, 5]
    assert out["rows"][0]["efficiency"]["bytes_per_descriptor"] == 128
    assert out["rows"][0]["provenance"]["submission_sha256"]


def test_every_metric_recomputes_from_the_stored_facts(board):
    record = board.store.protocol()
    ds = board.dataset(record)
    protocol = protocol_from_text(record.name, record.protocol_toml, record.protocol_sha256)
    settings = EvaluationSettings(**evaluation_settings(protocol, record.settings))
    for entry in board.store.entries(record.id, "scored"):
        for col in columns(entry.report):
            values = board.per_query(entry, col)
            assert values.mean() == pytest.approx(col.value(entry.report), abs=1e-12)
        again = evaluate_facts(
            board.facts(entry),
            ds.ground_truth(),
            settings,
            query_coords=ds.query_coords,
            database_coords=ds.database_coords,
        ).report
        for key in ("recall_at_n", "recall_at_percent", "pssr", "map_at_k", "tie_bounds"):
            assert again[key] == entry.report[key]
        assert again["confidence_intervals"] == entry.report["confidence_intervals"]


def test_sorting_on_another_metric_ranks_on_it(board):
    st = board.standings(sort="pssr")
    assert st.sort.key == "PSSR"
    assert st.rows[0].entry.name == "winner" and st.rows[-1].entry.name == "collapsed"
    assert len(st.family.tests) == 10


def test_compare_prints_difference_interval_and_holm_p(board, capsys):
    path = str(board.store.path)
    assert main(["leaderboard", "compare", path, "winner", "mid-a", "--metric", "R@1"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("R@1: winner 100.00 - mid-a ") and "over 10 comparisons" in line
    assert "(significant)" in line
    assert main(["leaderboard", "compare", path, "mid-a", "mid-b", "--json"]) == 0
    results = {r["metric"]: r for r in json.loads(capsys.readouterr().out)}
    r1 = results["R@1"]
    assert not r1["significant"] and r1["p_holm"] >= r1["p_value"]
    assert r1["interval"][0] <= r1["difference"] <= r1["interval"][1]
    assert r1["difference"] == pytest.approx(r1["value_a"] - r1["value_b"])
    # the same numbers as the table's family
    fam = board.standings().family
    names = [e.name for e in fam.entries]
    c, adj = fam.between(names.index("mid-a"), names.index("mid-b"))
    assert (c.p_value, adj) == (r1["p_value"], r1["p_holm"])


def test_compare_and_show_errors_are_one_line(board, capsys):
    path = str(board.store.path)
    assert main(["leaderboard", "compare", path, "winner", "nan"]) == 2
    assert "was rejected" in capsys.readouterr().err
    assert main(["leaderboard", "compare", path, "winner", "nobody"]) == 2
    assert "no submission named 'nobody'" in capsys.readouterr().err
    assert main(["leaderboard", "show", path, "--sort", "R@7"]) == 2
    err = capsys.readouterr().err
    assert "unknown metric 'R@7'; use one of R@1, R@5" in err and err.count("\n") == 1


def test_show_prints_the_table(board, capsys):
    assert main(["leaderboard", "show", str(board.store.path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("lbtown: ranked on R@1 (5 scored, 1 rejected")
    assert lines[2].split()[:2] == ["1", "winner"]
    assert any(line.startswith("5 ") and "collapsed" in line and "*" in line for line in lines)
    assert lines[-1].startswith("rejected: nan")


def test_results_are_reproducible(board):
    first = board.standings().family
    board._values.clear()
    board._families.clear()
    again = board.standings().family
    assert {k: v.p_value for k, v in first.tests.items()} == {
        k: v.p_value for k, v in again.tests.items()
    }
    assert np.isfinite([v.p_value for v in first.tests.values()]).all()
