"""EvalAI's ``evaluate`` and the Codabench scoring program give the CLI's numbers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.leaderboard.world import make_world
from vprmetrics.cli import main
from vprmetrics.data.protocol import PROTOCOLS_ENV
from vprmetrics.errors import InputError, ProtocolError
from vprmetrics.hosting.codabench import score_dirs
from vprmetrics.hosting.evalai import evaluate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def cli_report(world, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "r.json"
    args = ["evaluate", "--protocol", str(world["protocol"]), "--ground-truth", str(world["gt"])]
    assert main([*args, "--submission", str(world["mid-a"]), "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_evalai_returns_the_cli_numbers_in_its_shape(world, cli_report, monkeypatch):
    monkeypatch.setenv(PROTOCOLS_ENV, str(world["protocol"].parent))
    out = evaluate(str(world["gt"]), str(world["mid-a"]), "test", submission_metadata={})
    (result,) = out["result"]
    assert list(result) == ["lbtown"]
    metrics = result["lbtown"]
    assert out["submission_result"] == metrics
    assert list(metrics) == [
        "R@1",
        "R@5",
        "R@10",
        "R@1%",
        "PSSR",
        "mAP@1",
        "mAP@5",
        "mAP@10",
        "mAP@20",
    ]
    assert metrics["R@1"] == pytest.approx(100 * cli_report["recall_at_n"]["1"])
    assert metrics["PSSR"] == pytest.approx(cli_report["pssr"]["mean"])
    assert (
        out["submission_metadata"]["protocol"]["ground_truth_sha256"]
        == (cli_report["protocol"]["ground_truth_sha256"])
    )
    split = evaluate(str(world["gt"]), str(world["mid-a"]), "dev", split="dev_split")
    assert list(split["result"][0]) == ["dev_split"]


def test_evalai_raises_the_one_line_reason(world):
    with pytest.raises(ProtocolError, match=r"^invalid submission: queries has 1 rows with NaN"):
        evaluate(str(world["gt"]), str(world["nan"]), "test", protocol=str(world["protocol"]))
    bare = world["gt"].parent / "bare.npz"
    with np.load(world["gt"]) as gt:
        np.savez(bare, **{k: gt[k] for k in gt.files if k != "protocol"})
    with pytest.raises(InputError, match="names no protocol"):
        evaluate(str(bare), str(world["mid-a"]), "test")


def _bundle(tmp: Path, world, files: dict[str, Path]) -> Path:
    (tmp / "in" / "ref").mkdir(parents=True)
    (tmp / "in" / "res").mkdir()
    shutil.copy(world["gt"], tmp / "in" / "ref" / "GT.npz")
    shutil.copy(world["protocol"], tmp / "in" / "ref" / "lbtown.toml")
    for name, src in files.items():
        shutil.copy(src, tmp / "in" / "res" / name)
    return tmp / "in"


def test_codabench_program_writes_scores_json(world, cli_report, tmp_path):
    bundle = _bundle(tmp_path, world, {"submission.npz": world["mid-a"]})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "vprmetrics.hosting.codabench", str(bundle), str(tmp_path / "o")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    scores = json.loads((tmp_path / "o" / "scores.json").read_text())
    assert scores["recall_at_1"] == pytest.approx(100 * cli_report["recall_at_n"]["1"])
    assert scores["recall_at_1pct"] == pytest.approx(100 * cli_report["recall_at_percent"]["1"])
    assert set(scores) >= {"recall_at_5", "pssr", "map_at_10"}
    assert json.loads((tmp_path / "o" / "report.json").read_text())["n_queries"] == 200


def test_codabench_accepts_two_npy_files(world, cli_report, tmp_path):
    with np.load(world["mid-a"]) as sub:
        np.save(tmp_path / "queries.npy", sub["queries"])
        np.save(tmp_path / "database.npy", sub["database"])
    files = {n: tmp_path / n for n in ("queries.npy", "database.npy")}
    scores = score_dirs(_bundle(tmp_path, world, files), tmp_path / "o")
    assert scores["recall_at_1"] == pytest.approx(100 * cli_report["recall_at_n"]["1"])


def test_codabench_bad_submission_exits_2_with_one_line(world, tmp_path):
    bundle = _bundle(tmp_path, world, {"s.npz": world["nan"]})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "vprmetrics.hosting.codabench", str(bundle), str(tmp_path / "o")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("vprmetrics scoring: error: invalid submission: queries has")
    assert done.stderr.count("\n") == 1 and not (tmp_path / "o" / "scores.json").exists()
    (bundle / "res" / "s.npz").unlink()
    with pytest.raises(InputError, match=r"neither one \.npz"):
        score_dirs(bundle, tmp_path / "o")
