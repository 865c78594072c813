"""Training on a tiny VG-layout dataset on CPU: run folder, resume, options, CLI."""

import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from PIL import Image  # noqa: E402

from reference_models.data import (  # noqa: E402
    AugmentSpec,
    ImageSpec,
    build_augmentation,
    crop_top_bottom,
    preprocess,
)
from reference_models.models import build_model  # noqa: E402
from reference_models.training import (  # noqa: E402
    TrainConfig,
    apply_freeze,
    build_optimizer,
    load_checkpoint,
    split_protocol,
    train,
)
from vprmetrics.protocol import load_protocol  # noqa: E402

PROTOCOL = """schema = 1
name = "tinytown"
dataset = "tiny test town"
split = "test"
layout = "vg"
task = "vpr"
status = "unverified"
description = "tests"
[database]
path = "images/test/database"
[queries]
path = "images/test/queries"
[ground_truth]
kind = "radius"
coordinates = "utm"
radius_m = 25.0
no_positive = "miss"
[metrics]
recall_at_n = [1, 5, 10]
recall_at_percent = [1]
recall_at_percent_convention = "ceil"
[loader]
[source]
citation = "tests"
notes = []
"""


def make_tiny_vg(root, monkeypatch, places=10, size=(32, 48)):
    """A VG-layout town: places 40 m apart on a line, 2 database images per place, one
    query per place; each place has its own colour pattern (queries: noisier)."""
    rng = np.random.default_rng(0)
    for split in ("train", "val", "test"):
        for p in range(places):
            base = rng.integers(0, 255, size=(4, 6, 3)).astype(np.float64)
            east, north = 500000.0 + 40.0 * p, 4000000.0
            for side, n, noise, dx in (("database", 2, 10, (0.0, 3.0)), ("queries", 1, 30, (2.0,))):
                folder = root / "images" / split / side
                folder.mkdir(parents=True, exist_ok=True)
                for i in range(n):
                    img = np.kron(base, np.ones((size[0] // 4, size[1] // 6, 1)))
                    img = np.clip(img + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)
                    name = f"@{east + dx[i]:010.2f}@{north:010.2f}@17@T@@@{split}{p}@00@@@@@@x@.jpg"
                    Image.fromarray(img).save(folder / name, quality=95)
    (root / "protocols").mkdir(exist_ok=True)
    (root / "protocols" / "tinytown.toml").write_text(PROTOCOL)
    monkeypatch.setenv("VPRMETRICS_PROTOCOLS", str(root / "protocols"))
    return root


def tiny_config(root, out, **kw):
    base = dict(
        model="resnet18-gem", protocol="tinytown", dataset_root=str(root), out=str(out),
        epochs=1, queries_per_epoch=4, cache_refresh=4, batch_size=2, negatives_per_query=2,
        negative_sample_size=8, mining="partial", lr=1e-4, image_size=(32, 48),
        infer_batch_size=16, progress=False, netvlad_init_images=20, netvlad_init_per_image=6,
        threads=2,
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    return make_tiny_vg(tmp_path / "data", monkeypatch)


def test_train_writes_run_folder(tiny, tmp_path):
    result = train(tiny_config(tiny, tmp_path / "run", epochs=2, patience=5))
    run = tmp_path / "run"
    for name in ("config.json", "last.pt", "best.pt", "log.json", "curve.png"):
        assert (run / name).is_file(), name
    log = json.loads((run / "log.json").read_text())
    assert [h["epoch"] for h in log["history"]] == [1, 2]
    assert log["meta"]["freeze"] == "none" and log["meta"]["device"] == "cpu"
    assert set(result.best_recalls) == {1, 5, 10}
    assert all(0.0 <= v <= 1.0 for v in result.best_recalls.values())
    ckpt = load_checkpoint(run / "last.pt")  # weights_only=True
    assert ckpt["epoch"] == 2 and "optimizer" in ckpt


def test_resume_gives_the_same_next_step(tiny, tmp_path):
    kw = dict(mining="full", patience=5, augment=AugmentSpec(brightness=0.2, hflip=True))
    train(tiny_config(tiny, tmp_path / "straight", epochs=2, **kw))
    train(tiny_config(tiny, tmp_path / "resumed", epochs=1, **kw))
    train(tiny_config(tiny, tmp_path / "resumed", epochs=2, resume=True, **kw))
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "resumed" / "last.pt")
    assert a["epoch"] == b["epoch"] == 2
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert json.loads(a["history"])[1]["loss"] == json.loads(b["history"])[1]["loss"]


@pytest.mark.parametrize("model,loss", [("resnet18-netvlad", "contrastive"),
                                        ("resnet18-crn", "multi-similarity")])
def test_vlad_models_and_study_losses_train(tiny, tmp_path, model, loss):
    result = train(tiny_config(tiny, tmp_path / "run", model=model, loss=loss,
                               optimizer="adamw", mining="random"))
    log = json.loads((tmp_path / "run" / "log.json").read_text())
    assert log["meta"]["netvlad_alpha"] > 0
    assert np.isfinite(result.history[0]["loss"])


def test_siamese_pair_training(tiny, tmp_path):
    result = train(tiny_config(tiny, tmp_path / "run", model="siamese-resnet50",
                               optimizer="sgd", lr=1e-3, negative_rank=5))
    assert result.history[0]["steps"] == 2 and np.isfinite(result.history[0]["loss"])


def test_cli_train(tiny, tmp_path):
    from reference_models.__main__ import main

    code = main(["train", "--model", "resnet18-gem", "--protocol", "tinytown", "--dataset-root",
                 str(tiny), "--out", str(tmp_path / "cli"), "--preset", "cpu-quick",
                 "--epochs", "1", "--queries-per-epoch", "4", "--batch-size", "2",
                 "--image-size", "32x48", "--augment", "jitter,crop", "--quiet"])
    assert code == 0
    cfg = json.loads((tmp_path / "cli" / "config.json").read_text())
    assert cfg["image_size"] == [32, 48] and cfg["lr"] == 1e-3 and cfg["augment"]["hflip"] is False
    assert main(["train", "--model", "nope", "--protocol", "tinytown", "--dataset-root",
                 str(tiny), "--out", str(tmp_path / "x"), "--quiet"]) == 2


def test_optimizers_follow_the_study():
    params = [torch.nn.Parameter(torch.zeros(2))]
    assert build_optimizer(params, "adamw", 1e-5).param_groups[0]["weight_decay"] == 0.01
    sgd = build_optimizer(params, "sgd", 0.01).param_groups[0]
    assert (sgd["momentum"], sgd["weight_decay"]) == (0.9, 5e-4)
    assert build_optimizer(params, "adam", 1e-5).param_groups[0]["weight_decay"] == 0.0


def test_freeze_rule():
    model = build_model("resnet18-gem")
    assert apply_freeze(model, "auto", has_weights=True) == "benchmark"
    assert not model.backbone.body.conv1.weight.requires_grad
    assert apply_freeze(model, "auto", has_weights=False) == "none"
    assert all(p.requires_grad for p in model.backbone.parameters())


def test_split_protocol_swaps_the_split_folder(tiny):
    val = split_protocol(load_protocol("tinytown"), "val")
    assert val.database.path == "images/val/database" and val.name == "tinytown[val]"


def test_preprocessing_crop_resize_augment():
    img = Image.fromarray(np.arange(100 * 40 * 3, dtype=np.uint32).reshape(100, 40, 3)
                          .astype(np.uint8))
    assert crop_top_bottom(img, 20, 5).size == (40, 75)  # U20 B5
    assert tuple(preprocess(img, ImageSpec(resize_percent=50)).shape) == (3, 50, 20)
    out = preprocess(img, ImageSpec((16, 32), crop_top=20, crop_bottom=5))
    assert tuple(out.shape) == (3, 16, 32) and out.dtype == torch.uint8
    aug = build_augmentation(AugmentSpec(0.4, 0.4, 0.4, 0.1, True, (0.7, 1.0)), (16, 32))
    assert tuple(aug(out).shape) == (3, 16, 32)
    assert build_augmentation(AugmentSpec(), (16, 32)) is None


def test_place_sampler_training_and_resume(tiny, tmp_path):
    kw = dict(sampler="places", places_per_batch=4, images_per_place=3, queries_per_epoch=8,
              loss="multi-similarity", loss_options={"alpha": 2.0, "beta": 50.0, "base": 0.5},
              lr=1e-3, patience=5, augment=AugmentSpec(brightness=0.3, contrast=0.3))
    train(tiny_config(tiny, tmp_path / "straight", epochs=2, **kw))
    train(tiny_config(tiny, tmp_path / "resumed", epochs=1, **kw))
    result = train(tiny_config(tiny, tmp_path / "resumed", epochs=2, resume=True, **kw))
    assert [h["steps"] for h in result.history] == [2, 2]
    assert all(np.isfinite(h["loss"]) and h["loss"] > 0 for h in result.history)
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "resumed" / "last.pt")
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key


def test_loss_options_reach_the_loss():
    from reference_models.training import build_loss

    loss = build_loss(TrainConfig(loss="multi-similarity", loss_options={"base": 0.5}))
    assert (loss.alpha, loss.beta, loss.base) == (1.0, 50.0, 0.5)
    assert build_loss(TrainConfig(loss="triplet", margin=0.3)).margin == 0.3
    with pytest.raises(Exception, match="do not fit"):
        build_loss(TrainConfig(loss="contrastive", loss_options={"base": 0.5}))


def test_cpu_quick_preset_is_valid():
    from reference_models.training import PRESETS

    cfg = TrainConfig(**PRESETS["cpu-quick"])
    assert cfg.sampler == "places" and cfg.image_size is not None


def test_cosine_schedule_runs_down_to_zero():
    from reference_models.training import scheduled_lr, steps_per_epoch

    cfg = TrainConfig(sampler="places", places_per_batch=16, queries_per_epoch=1600, epochs=5,
                      lr=1e-3, lr_schedule="cosine")
    assert steps_per_epoch(cfg) == 100
    assert scheduled_lr(cfg, 0) == 1e-3 and abs(scheduled_lr(cfg, 250) - 5e-4) < 1e-12
    assert scheduled_lr(cfg, 500) == 0.0
    assert scheduled_lr(dataclasses.replace(cfg, lr_schedule="constant"), 400) == 1e-3
