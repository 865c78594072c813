"""Training on the tiny VG-layout town on CPU: run folder, resume, every sampler, presets."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reference_models.training.checkpoints import load_checkpoint  # noqa: E402
from reference_models.training.config import PRESETS, AugmentSpec, TrainConfig  # noqa: E402
from reference_models.training.loop import train  # noqa: E402
from vprmetrics.errors import InputError  # noqa: E402


def _same_weights(a, b):
    return all(torch.equal(value, b["model"][key]) for key, value in a["model"].items())


def test_train_writes_run_folder(tiny, tiny_config, tmp_path):
    seen = []
    result = train(tiny_config(tiny, tmp_path / "run", epochs=2, patience=5), on_epoch=seen.append)
    run = tmp_path / "run"
    files = sorted(p.name for p in run.iterdir())  # nothing temporary left behind
    assert files == ["best.pt", "config.json", "curve.png", "last.pt", "log.json"]
    log = json.loads((run / "log.json").read_text())
    assert [h["epoch"] for h in log["history"]] == [1, 2] and seen == result.history
    assert log["meta"]["freeze"] == "none" and log["meta"]["device"] == "cpu"
    assert TrainConfig.from_json(json.loads((run / "config.json").read_text())).epochs == 2
    assert set(result.best_recalls) == {1, 5, 10}
    assert all(0.0 <= v <= 1.0 for v in result.best_recalls.values())
    assert result.best_checkpoint == run / "best.pt"
    ckpt = load_checkpoint(run / "last.pt")  # weights_only=True
    assert ckpt["epoch"] == 2 and "optimizer" in ckpt


def test_resume_gives_the_same_next_step(tiny, tiny_config, tmp_path):
    kw = dict(mining="full", patience=5, augment=AugmentSpec(brightness=0.2, hflip=True))
    train(tiny_config(tiny, tmp_path / "straight", epochs=2, **kw))
    train(tiny_config(tiny, tmp_path / "resumed", epochs=1, **kw))
    train(tiny_config(tiny, tmp_path / "resumed", epochs=2, resume=True, **kw))
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "resumed" / "last.pt")
    assert a["epoch"] == b["epoch"] == 2
    assert _same_weights(a, b)
    assert json.loads(a["history"])[1]["loss"] == json.loads(b["history"])[1]["loss"]


def test_resume_takes_the_new_thread_count(tiny, tiny_config, tmp_path):
    """threads is how a run executes, not what it trains: a resumed run uses the new one."""
    before = torch.get_num_threads()
    try:
        train(tiny_config(tiny, tmp_path / "run", epochs=1, threads=1))
        train(tiny_config(tiny, tmp_path / "run", epochs=2, threads=2, resume=True))
        assert torch.get_num_threads() == 2
        log = json.loads((tmp_path / "run" / "log.json").read_text())
        assert log["config"]["threads"] == 2 and len(log["history"]) == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(
    "model,loss", [("resnet18-netvlad", "contrastive"), ("resnet18-crn", "multi-similarity")]
)
def test_vlad_models_and_study_losses_train(tiny, tiny_config, tmp_path, model, loss):
    cfg = tiny_config(
        tiny, tmp_path / "run", model=model, loss=loss, optimizer="adamw", mining="random"
    )
    result = train(cfg)
    log = json.loads((tmp_path / "run" / "log.json").read_text())
    assert log["meta"]["netvlad_alpha"] > 0
    assert np.isfinite(result.history[0]["loss"])


def test_siamese_pair_training(tiny, tiny_config, tmp_path):
    cfg = tiny_config(
        tiny, tmp_path / "run", model="siamese-resnet50", optimizer="sgd", lr=1e-3, negative_rank=5
    )
    result = train(cfg)
    assert result.history[0]["steps"] == 2 and np.isfinite(result.history[0]["loss"])


def test_siamese_head_starts_as_a_distance(tiny, tiny_config, tmp_path):
    # lr 1e-12: the saved head is the initialised one (fc1 >= 0, fc2 <= 0: a weighted L1
    # distance); a default-initialised head has weights of both signs
    cfg = tiny_config(
        tiny, tmp_path / "run", model="siamese-resnet50", lr=1e-12, max_heading_deg=45.0
    )
    train(cfg)
    state = load_checkpoint(tmp_path / "run" / "last.pt")["model"]
    assert state["head.fc1.weight"].min() >= -1e-9 and state["head.fc2.weight"].max() <= 1e-9


def test_place_sampler_training_and_resume(tiny, tiny_config, tmp_path):
    kw = dict(
        sampler="places",
        places_per_batch=4,
        images_per_place=3,
        queries_per_epoch=8,
        loss="multi-similarity",
        loss_options={"alpha": 2.0, "beta": 50.0, "base": 0.5},
        lr=1e-3,
        patience=5,
        augment=AugmentSpec(brightness=0.3, contrast=0.3),
    )
    train(tiny_config(tiny, tmp_path / "straight", epochs=2, **kw))
    train(tiny_config(tiny, tmp_path / "resumed", epochs=1, **kw))
    result = train(tiny_config(tiny, tmp_path / "resumed", epochs=2, resume=True, **kw))
    assert [h["steps"] for h in result.history] == [2, 2]
    assert all(np.isfinite(h["loss"]) and h["loss"] > 0 for h in result.history)
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "resumed" / "last.pt")
    assert _same_weights(a, b)


def test_cpu_quick_preset_trains(tiny, tmp_path):
    """The demo's preset as it is, on the tiny town: one full step per epoch at its size."""
    preset = PRESETS["cpu-quick"]
    cfg = TrainConfig(
        **{**preset, "epochs": 1, "queries_per_epoch": preset["places_per_batch"]},
        model="resnet18-gem",
        protocol="tinytown",
        dataset_root=str(tiny),
        out=str(tmp_path / "run"),
        progress=False,
        threads=2,
    )
    result = train(cfg)
    log = json.loads((tmp_path / "run" / "log.json").read_text())
    assert log["meta"]["image_size"] == list(preset["image_size"])
    assert result.history[0]["steps"] == 1
    assert np.isfinite(result.history[0]["loss"]) and result.history[0]["loss"] > 0


def test_a_cross_view_model_needs_a_cross_view_loss(tiny, tiny_config, tmp_path, monkeypatch):
    from torch import nn

    from reference_models.models import registry

    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))
    registry.register_model(registry.ModelSpec("toy-cv", builder=nn.Identity, task="cross_view"))
    with pytest.raises(InputError, match="does not train a cross-view model"):
        train(tiny_config(tiny, tmp_path / "run", model="toy-cv"))
