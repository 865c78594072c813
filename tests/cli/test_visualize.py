"""``vprmetrics visualize`` on a tiny generated VG-style dataset."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("PIL")

import vprmetrics as vm
from tests.cli.vg_world import make_world
from vprmetrics.cli import main
from vprmetrics.cli.visualize import first_positive_rank, select_queries
from vprmetrics.report import plots


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("tinyvg")
    protocols, queries, database = make_world(root)
    np.save(root / "q.npy", queries)
    np.save(root / "d.npy", database)
    return root, protocols


@pytest.fixture
def env(world, monkeypatch):
    root, protocols = world
    monkeypatch.setenv("VPRMETRICS_PROTOCOLS", str(protocols))
    return root


def _args(root, *extra):
    return [
        "visualize",
        "--protocol",
        "tinyvg",
        "--dataset-root",
        str(root),
        "--submission",
        str(root / "q.npy"),
        str(root / "d.npy"),
        *extra,
    ]


def test_writes_a_grid_png(env, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(_args(env, "--worst", "4", "--top", "3", "--out", str(out))) == 0
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "wrote" in capsys.readouterr().out


def test_frames_are_green_for_positives_and_red_otherwise(env, tmp_path, monkeypatch):
    figures = []
    monkeypatch.setattr(plots, "figure_png", lambda fig: figures.append(fig) or b"png")
    assert (
        main(_args(env, "--queries", "0,5,9", "--top", "4", "--out", str(tmp_path / "g.png"))) == 0
    )
    (fig,) = figures
    axes = np.array(fig.axes).reshape(3, 5)
    q = np.load(env / "q.npy")
    d = np.load(env / "d.npy")
    from vprmetrics.data.loaders import open_dataset
    from vprmetrics.data.protocol import load_protocol

    dataset = open_dataset(load_protocol("tinyvg"), env)
    gt = dataset.ground_truth()
    facts = vm.rank(q, d, gt, k=4)
    from matplotlib.colors import to_rgba

    green, red = to_rgba("tab:green"), to_rgba("tab:red")
    for r, query in enumerate([0, 5, 9]):
        assert axes[r, 0].get_title() == f"query {query}"
        for i, j in enumerate(facts.topk_ids[query]):
            colour = axes[r, i + 1].spines["top"].get_edgecolor()
            assert colour == (green if int(j) in set(gt.of(query).tolist()) else red), (r, i)
            assert axes[r, i + 1].get_xlabel().endswith(" m")
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_worst_puts_the_lowest_ranked_first_positive_first():
    db = np.array([[0.0], [1.0], [2.0], [3.0]])
    q = np.array([[0.0], [3.0], [1.0], [2.2]])
    gt = vm.Positives.from_lists([[3], [3], [0], []], 4)
    facts = vm.rank(q, db, gt, k=2)
    assert first_positive_rank(facts).tolist() == [4, 1, 2, 5]
    assert select_queries(facts, worst=3).tolist() == [3, 0, 2]
    assert select_queries(facts, queries=[1, 0]).tolist() == [1, 0]
    picked = select_queries(facts, random=2, seed=1)
    assert len(set(picked.tolist())) == 2 and list(picked) == sorted(picked)


def test_errors_are_one_line_with_exit_2(env, tmp_path, capsys):
    out = str(tmp_path / "g.png")
    assert main(_args(env, "--queries", "0,99", "--out", out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--queries 99 is outside [0, 24)" in err
    assert main(_args(env, "--worst", "3", "--top", "50", "--out", out)) == 2
    assert "--top 50 must be in [1, 20]" in capsys.readouterr().err
    assert main(_args(env, "--random", "0", "--out", out)) == 2
    assert "--random 0 must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one of --queries/--worst/--random is required
        main(_args(env, "--out", out))


def test_an_image_id_never_leaves_the_dataset_root(tmp_path):
    from vprmetrics.cli.visualize import _image

    (tmp_path / "root").mkdir()
    with pytest.raises(ValueError, match="leaves the dataset root"):
        _image(tmp_path / "root", "../secret.jpg", 32)
    with pytest.raises(ValueError, match="is missing; check --dataset-root"):
        _image(tmp_path / "root", "gone.jpg", 32)
