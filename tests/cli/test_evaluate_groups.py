"""`vprmetrics evaluate --protocol tokyo247-netvlad`: panoramas ranked by their closest
cutout, on a synthetic Tokyo-style dataset; raw-array options refused under a protocol."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers.tokyo_world import make_tokyo, with_query_crops
from vprmetrics.cli import main

N_PANO, N_CUT, N_QUERY = 6332, 12, 315


@pytest.fixture(scope="module")
def tokyo(tmp_path_factory):
    """6,332 panoramas x 12 cutouts on a 30 m grid; 315 queries at 35 panoramas."""
    return make_tokyo(tmp_path_factory.mktemp("tokyo"), N_PANO, N_CUT, N_QUERY)


def _run(root, protocol, *extra):
    out = root / f"{protocol}.json"
    code = main(
        ["evaluate", "--protocol", protocol, "--dataset-root", str(root), "--submission",
         str(root / "S.npz"), "--json", str(out), "--n-resamples", "20", *extra]
    )  # fmt: skip
    return code, (json.loads(out.read_text()) if code == 0 else None)


def test_tokyo247_netvlad_ranks_panoramas_by_their_closest_cutout(tokyo):
    root, queries, database, pano, grid, q_xy = tokyo
    code, report = _run(root, "tokyo247-netvlad")
    assert code == 0
    assert report["n_database"] == N_PANO and report["n_queries"] == N_QUERY
    assert report["groups"]["database_rows"] == N_PANO * N_CUT
    # brute force: panorama distance = min over its cutouts; positives within 25 m
    d = ((queries[:, None, :].astype(np.float64) - database[None].astype(np.float64)) ** 2).sum(-1)
    per_pano = np.full((N_QUERY, N_PANO), np.inf)
    np.minimum.at(per_pano, (slice(None), pano), d)  # each row into its panorama
    geo = np.sqrt(((q_xy[:, None, :] - grid[None]) ** 2).sum(-1)) <= 25.0
    best_pos = np.where(geo, per_pano, np.inf).min(axis=1)
    rank = (per_pano < best_pos[:, None]).sum(axis=1)  # negatives strictly closer (no ties)
    for n in (1, 5, 10, 20):
        assert report["recall_at_n"][str(n)] == pytest.approx(np.mean(rank < n), abs=1e-12)
    assert report["recall_at_percent_cutoffs"]["1"] == 64  # ceil(6332 / 100): panoramas


def test_tokyo247_ranks_cutouts(tokyo):
    root = tokyo[0]
    code, report = _run(root, "tokyo247")
    assert code == 0 and report["n_database"] == N_PANO * N_CUT and "groups" not in report


def test_raw_array_options_are_refused_under_a_protocol(tokyo, capsys):
    root = tokyo[0]
    code, _ = _run(root, "tokyo247", "--radius", "10")
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--radius" in err[0]


def test_no_positive_error_names_the_first_query(tmp_path, capsys):
    rng = np.random.default_rng(1)
    for name, rows in (("q", 3), ("d", 5)):
        np.save(tmp_path / f"{name}.npy", rng.normal(size=(rows * 10, 4)))
    np.save(tmp_path / "qu.npy", np.repeat([[0.0, 0.0], [1e4, 0.0], [2e4, 0.0]], 10, axis=0))
    np.save(tmp_path / "du.npy", np.zeros((50, 2)))
    code = main(
        ["evaluate", "--queries", str(tmp_path / "q.npy"), "--database", str(tmp_path / "d.npy"),
         "--query-utm", str(tmp_path / "qu.npy"), "--database-utm", str(tmp_path / "du.npy"),
         "--no-positive", "error"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "first: query 10" in err and "--no-positive miss" in err


def test_query_crops_rank_by_their_closest_crop(tokyo):
    """``query_groups`` in the submission: 3 crops per query, the closest crop counts."""
    root, _, database, pano, grid, q_xy = tokyo
    _, crops = with_query_crops(tokyo)
    out = root / "crops.json"
    code = main(
        ["evaluate", "--protocol", "tokyo247-netvlad", "--dataset-root", str(root),
         "--submission", str(root / "S3.npz"), "--json", str(out), "--n-resamples", "20"]
    )  # fmt: skip
    assert code == 0
    report = json.loads(out.read_text())
    assert report["groups"]["query_rows"] == 3 * N_QUERY and report["n_queries"] == N_QUERY
    d = ((crops[:, None, :].astype(np.float64) - database[None].astype(np.float64)) ** 2).sum(-1)
    d = d.reshape(N_QUERY, 3, -1).min(axis=1)
    per_pano = np.full((N_QUERY, N_PANO), np.inf)
    np.minimum.at(per_pano, (slice(None), pano), d)
    geo = np.sqrt(((q_xy[:, None, :] - grid[None]) ** 2).sum(-1)) <= 25.0
    best_pos = np.where(geo, per_pano, np.inf).min(axis=1)
    rank = (per_pano < best_pos[:, None]).sum(axis=1)
    for n in (1, 5):
        assert report["recall_at_n"][str(n)] == pytest.approx(np.mean(rank < n), abs=1e-12)
