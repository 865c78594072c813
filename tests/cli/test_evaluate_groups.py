"""`vprmetrics evaluate --protocol tokyo247-netvlad`: panoramas ranked by their closest
cutout, on a synthetic Tokyo-style dataset; raw-array options refused under a protocol."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vprmetrics.cli import main

N_PANO, N_CUT, N_QUERY = 6332, 12, 315


def _name(e: float, n: float, pano: str, tile: str, note: str = "") -> str:
    fields = [f"{e:.2f}", f"{n:.2f}", "54", "S", "", "", pano, tile, "", "", "", "", "", note]
    return "@" + "@".join(fields) + "@.jpg"


@pytest.fixture(scope="module")
def tokyo(tmp_path_factory):
    """6,332 panoramas x 12 cutouts on a 30 m grid; 315 queries at 35 panoramas."""
    root = tmp_path_factory.mktemp("tokyo")
    rng = np.random.default_rng(0)
    grid = np.stack(np.divmod(np.arange(N_PANO), 80), axis=1) * 30.0 + [380000.0, 3950000.0]
    # cutouts listed in an order that interleaves two panoramas now and then
    order = np.arange(N_PANO * N_CUT).reshape(N_PANO, N_CUT)
    order[[10, 11], 6:] = order[[11, 10], 6:]
    rows = order.ravel()
    pano = rows // N_CUT
    db_names = [
        _name(*grid[p], f"{p:06d}", f"{c:02d}") for p, c in zip(pano, rows % N_CUT, strict=True)
    ]
    places = rng.choice(N_PANO, size=35, replace=False)
    q_pano = np.repeat(places, 9)
    q_xy = grid[q_pano] + rng.uniform(-3, 3, size=(N_QUERY, 2))
    q_names = [_name(*q_xy[i], "", "", f"q{i:03d}") for i in range(N_QUERY)]
    for side, names in (("database", db_names), ("queries", q_names)):
        (root / "images" / "test" / side).mkdir(parents=True)
        (root / "images" / "test" / f"{side}_images_paths.txt").write_text("\n".join(names))
    base = rng.normal(size=(N_PANO, 8)).astype(np.float32)
    database = base[pano] + 0.6 * rng.normal(size=(rows.size, 8)).astype(np.float32)
    queries = base[q_pano] + 0.6 * rng.normal(size=(N_QUERY, 8)).astype(np.float32)
    np.savez(
        root / "S.npz",
        queries=queries,
        database=database,
        query_ids=np.array([f"images/test/queries/{n}" for n in q_names]),
        database_ids=np.array([f"images/test/database/{n}" for n in db_names]),
    )
    return root, queries, database, pano, grid, q_xy


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
    root, queries, database, pano, grid, q_xy = tokyo
    rng = np.random.default_rng(7)
    crops = np.repeat(queries, 3, axis=0) + 0.3 * rng.normal(size=(3 * N_QUERY, 8))
    crops = crops.astype(np.float32)
    with np.load(root / "S.npz") as s:
        ids = {k: s[k] for k in ("query_ids", "database_ids")}
    np.savez(
        root / "S3.npz", queries=crops, database=database,
        query_groups=np.repeat(np.arange(N_QUERY), 3), **ids,
    )  # fmt: skip
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
