"""`vprmetrics search-tradeoff`: table, JSON and plot written together, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vprmetrics.cli import main

pytest.importorskip("faiss")


@pytest.fixture
def arrays(tmp_path):
    rng = np.random.default_rng(2)
    du = np.c_[np.arange(1500) // 10 * 10.0, np.zeros(1500)]
    qu = np.c_[rng.integers(0, 150, 80) * 10.0, rng.uniform(-5, 5, 80)]
    places = rng.standard_normal((150, 16)).astype(np.float32)
    db = places[np.arange(1500) // 10] + 0.5 * rng.standard_normal((1500, 16), dtype=np.float32)
    q = places[(qu[:, 0] // 10).astype(int)] + 0.7 * rng.standard_normal((80, 16), dtype=np.float32)
    for name, value in {"q": q, "db": db, "qu": qu, "du": du}.items():
        np.save(tmp_path / f"{name}.npy", value)
    return tmp_path


def _run(tmp, *extra):
    return main(
        ["search-tradeoff", "--queries", str(tmp / "q.npy"), "--database", str(tmp / "db.npy"),
         "--query-utm", str(tmp / "qu.npy"), "--database-utm", str(tmp / "du.npy"),
         "--radius", "5", "--threads", "1", *extra]
    )  # fmt: skip


def test_writes_table_json_and_plot(arrays, capsys):
    pytest.importorskip("matplotlib")
    rc = _run(arrays, "--index", "Flat", "--index", "IVF16,Flat nprobe=2", "--index", "PQ4np",
              "--out", str(arrays / "out"))  # fmt: skip
    assert rc == 0
    out = capsys.readouterr().out
    assert "| exact (vprmetrics) |" in out and "| IVF16,Flat nprobe=2 |" in out
    report = json.loads((arrays / "out" / "tradeoff.json").read_text())
    exact, flat, ivf, pq = report["indexes"]
    assert ivf["build_s"] > 0
    assert flat["recall_at_n"] == exact["recall_at_n"]
    assert pq["index_bytes"] < flat["index_bytes"] / 3
    assert (arrays / "out" / "tradeoff.md").read_text().startswith("# Search trade-off")
    assert (arrays / "out" / "tradeoff.png").read_bytes()[:4] == b"\x89PNG"


def test_a_bad_index_is_one_line_and_writes_nothing(arrays, capsys):
    rc = _run(arrays, "--index", "Flat", "--index", "IVF4096,Flat", "--out", str(arrays / "o"))
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert "faiss cannot build index 'IVF4096,Flat' on 1500 x 16" in err
    assert not (arrays / "o").exists()
