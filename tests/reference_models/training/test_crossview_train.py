"""End to end on a few SynthTown cross-view pairs: train -> export -> vprmetrics evaluate."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from reference_models.cli import main as reference_main
from reference_models.export import branch_paths, export_submission, export_torchscript
from reference_models.models import registry
from reference_models.models.crossview import CROSSVIEW_MODELS
from reference_models.studies.pssr_scores import score_descriptors
from reference_models.synthtown.dataset import Config, write_crossview
from reference_models.training.checkpoints import load_checkpoint
from reference_models.training.config import PRESETS, TrainConfig
from reference_models.training.crossview import crossview_split
from reference_models.training.loop import train
from vprmetrics.cli import main as vprmetrics_main

PROTOCOL = """schema = 1
name = "tinyxview"
dataset = "tiny SynthTown cross-view"
split = "val"
layout = "cvusa"
task = "cross-view"
status = "unverified"
description = "tests"
[database]
path = "bingmap"
count = 8
[queries]
path = "streetview"
count = 8
[ground_truth]
kind = "one-to-one"
no_positive = "error"
[metrics]
recall_at_n = [1, 5]
recall_at_percent = [1]
recall_at_percent_convention = "ceil"
query_direction = "ground-to-aerial"
[loader]
split_file = "splits/val-19zl.csv"
aerial_column = 0
ground_column = 1
[source]
citation = "tests"
notes = []
"""


@pytest.fixture(scope="module")
def xview(tmp_path_factory):
    root = tmp_path_factory.mktemp("xview")
    cfg = Config(crossview_pairs=(("train", 12), ("val", 8)), pano_size=(16, 64), aerial_size=32)
    write_crossview(root, cfg, workers=1)
    (root / "protocols").mkdir()
    (root / "protocols" / "tinyxview.toml").write_text(PROTOCOL)
    return root / "synthtown-crossview", root / "protocols"


@pytest.fixture
def small_cvm(monkeypatch, xview):
    """cvm-net-i with 2 NetVLAD clusters (a 1,024 -> 4,096 FC) so that a test trains it."""
    monkeypatch.setenv("VPRMETRICS_PROTOCOLS", str(xview[1]))
    build = CROSSVIEW_MODELS["cvm-net-i"][0]
    spec = dataclasses.replace(
        registry.get_spec("cvm-net-i"), builder=lambda **kw: build(num_clusters=2, **kw)
    )
    monkeypatch.setitem(registry._MODELS, "cvm-net-i", spec)
    return xview[0]


def test_train_split_is_the_train_csv(small_cvm):
    train_ds = crossview_split("tinyxview", small_cvm, "train")
    val_ds = crossview_split("tinyxview", small_cvm, "val")
    assert (train_ds.n_queries, val_ds.n_queries) == (12, 8)
    assert not set(train_ds.query_ids) & set(val_ds.query_ids)


def _tiny_cvm_config(root, out, **extra):
    """crossview-cpu-quick cut to one epoch of two batches on 16x64 / 32x32 images."""
    values = {**PRESETS["crossview-cpu-quick"], "image_size": (16, 64), "aerial_size": (32, 32)}
    values.update(
        batch_size=4,
        queries_per_epoch=8,
        epochs=1,
        superbatch_epochs=0,
        netvlad_init_images=4,
        netvlad_init_per_image=2,
        infer_batch_size=8,
    )
    values.update(extra)
    return TrainConfig(
        **values,
        model="cvm-net-i",
        protocol="tinyxview",
        dataset_root=str(root),
        out=str(out),
        progress=False,
    )


def test_tiny_train_export_evaluate(small_cvm, tmp_path, capsys):
    torch.set_num_threads(1)
    cfg = _tiny_cvm_config(
        small_cvm, tmp_path / "run", loss="max-margin-triplet", superbatch_epochs=1
    )
    result = train(cfg)
    assert result.epochs_run == 2 and [h["stage"] for h in result.history] == [1, 2]
    assert [h["loss_name"] for h in result.history] == ["max-margin-triplet", "soft-margin-triplet"]
    assert result.history[0]["steps"] == 2 and set(result.best_recalls) >= {"R@1", "R@1%"}
    assert "hard" in result.history[1]["triplets_super"]
    saved = load_checkpoint(result.run_dir / "best.pt")["config"]
    assert json.loads(saved)["model"] == "cvm-net-i"

    sub = tmp_path / "cvm.npz"
    summary = export_submission(result.run_dir, "tinyxview", small_cvm, sub, device="cpu")
    assert (summary["queries"], summary["database"], summary["dim"]) == (8, 8, 4096)
    ds = crossview_split("tinyxview", small_cvm, "val")
    with np.load(sub, allow_pickle=False) as data:
        assert list(data["database_ids"]) == list(ds.database_ids)  # aerial tiles
        assert list(data["query_ids"]) == list(ds.query_ids)  # ground panoramas
        queries = data["queries"]

    first = export_torchscript(result.run_dir, tmp_path / "cvm.pt")
    paths = branch_paths(tmp_path / "cvm.pt")
    assert first == paths["ground"] and all(p.is_file() for p in paths.values())
    ground = torch.jit.load(str(paths["ground"]))
    aerial = torch.jit.load(str(paths["aerial"]))
    assert aerial(torch.rand(1, 3, 32, 32)).shape == (1, 4096)
    from reference_models.export import load_run_model
    from reference_models.images import ImageSpec, ImageStore

    model, _ = load_run_model(result.run_dir)
    store = ImageStore(ds.root, ds.query_ids, ImageSpec((16, 64)), cache=False)
    with torch.no_grad():
        direct = model.embed(store.batch([0, 1]), "ground")
    np.testing.assert_allclose(direct.numpy(), queries[:2], atol=1e-5)
    raw = torch.stack([store.get(0), store.get(1)]).float() / 255  # before normalisation
    with torch.no_grad():
        np.testing.assert_allclose(ground(raw).numpy(), queries[:2], atol=1e-4)

    code = vprmetrics_main(
        [
            "evaluate",
            "--protocol",
            "tinyxview",
            "--dataset-root",
            str(small_cvm),
            "--submission",
            str(sub),
            "--json",
            str(tmp_path / "report.json"),
        ]
    )
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["n_queries"], report["n_database"]) == (8, 8)
    with np.load(sub, allow_pickle=False) as data:
        ours = score_descriptors(data["queries"], data["database"])
    assert report["recall_at_n"]["1"] == pytest.approx(ours["recall"]["1"])

    capsys.readouterr()
    argv = ["export", "--run", str(result.run_dir), "--protocol", "tinyxview", "--dataset-root",
            str(small_cvm), "--out", str(tmp_path / "cli.npz"), "--device", "cpu",
            "--torchscript", str(tmp_path / "cli.pt"), "--quiet"]  # fmt: skip
    assert reference_main(argv) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["task"] == "cross_view"
    want = [str(tmp_path / "cli.ground.pt"), str(tmp_path / "cli.aerial.pt")]
    assert printed["torchscript"] == want


def _tiny_cvm_run(root, out, **extra):
    train(_tiny_cvm_config(root, out, **extra))
    return load_checkpoint(out / "last.pt")["model"]


def test_superbatch_lr_sets_the_second_stage_rate(small_cvm, tmp_path):
    """At superbatch_lr 0 the super-batch epoch leaves the weights as stage 1 left them;
    at the run's lr it moves them."""
    torch.set_num_threads(1)
    stage1 = _tiny_cvm_run(small_cvm, tmp_path / "a")
    frozen = _tiny_cvm_run(small_cvm, tmp_path / "b", superbatch_epochs=1, superbatch_lr=0.0)
    moved = _tiny_cvm_run(small_cvm, tmp_path / "c", superbatch_epochs=1)
    assert all(torch.equal(stage1[k], frozen[k]) for k in stage1)
    assert not all(torch.equal(stage1[k], moved[k]) for k in stage1)
