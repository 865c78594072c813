"""The leaderboard scores through ``evaluate --protocol``'s own path: panoramas (a grouped
protocol) and query crops give the same report, and a file whose header declares the
wrong row count is refused before any array is read."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers.tokyo_world import make_tokyo, with_query_crops
from vprmetrics.cli import main
from vprmetrics.leaderboard import Leaderboard
from vprmetrics.npyio import SafeNpz

N_PANO, N_CUT, N_QUERY = 40, 4, 27


@pytest.fixture(scope="module")
def tokyo(tmp_path_factory):
    """40 panoramas x 4 cutouts, 27 queries, under ``tinytokyo`` (panorama grouping)."""
    return make_tokyo(tmp_path_factory.mktemp("tinytokyo"), N_PANO, N_CUT, N_QUERY)


@pytest.mark.parametrize("crops", [False, True], ids=["queries", "query-crops"])
def test_a_grouped_protocol_scores_as_evaluate_does(tokyo, tmp_path, crops):
    protocol, root = tokyo.root / "tinytokyo.toml", tokyo.root
    submission = with_query_crops(tokyo)[0] if crops else root / "S.npz"
    with Leaderboard.init(tmp_path / "lb.sqlite", protocol, dataset_root=root) as board:
        entry = board.submit([submission], "m")
    out = tmp_path / "r.json"
    assert main(["evaluate", "--protocol", str(protocol), "--dataset-root", str(root),
                 "--submission", str(submission), "--json", str(out)]) == 0  # fmt: skip
    cli = json.loads(out.read_text())
    assert entry.status == "scored", entry.reason
    report = entry.report
    assert report["n_database"] == N_PANO and report["n_queries"] == N_QUERY
    assert report["groups"]["database_rows"] == N_PANO * N_CUT
    assert report["groups"]["query_rows"] == N_QUERY * (3 if crops else 1)
    for key in set(cli) - {"timing", "efficiency"}:
        assert report[key] == cli[key], key
    cli["efficiency"].pop("matching_ms_per_query")
    assert {k: report["efficiency"][k] for k in cli["efficiency"]} == cli["efficiency"]


def test_a_header_with_the_wrong_row_count_is_refused_before_loading(fresh, tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    path = tmp_path / "short.npz"
    np.savez(path, queries=rng.normal(size=(199, 32)), database=rng.normal(size=(400, 32)))

    read = SafeNpz.__getitem__

    def no_submission_reads(self, key):
        assert self.path != path, f"array {key!r} of the submission was read"
        return read(self, key)

    monkeypatch.setattr(SafeNpz, "__getitem__", no_submission_reads)
    with Leaderboard(fresh) as board:
        entry = board.submit([path], "short")
    assert entry.status == "rejected"
    assert entry.reason == (
        f"submission {path}: queries has 199 rows but 200 are expected; give one row per "
        "image, in protocol order"
    )
