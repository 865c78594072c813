"""TrainConfig, its presets and its choice lists (no torch needed)."""

import dataclasses
import json
import subprocess
import sys

import pytest

from reference_models.training import config
from reference_models.training.config import PRESETS, AugmentSpec, TrainConfig
from vprmetrics.errors import InputError

#: TrainConfig field -> the tuple of names it accepts.
CHOICES = {
    "optimizer": config.OPTIMIZERS,
    "loss": config.LOSS_NAMES + config.CROSSVIEW_LOSSES,
    "freeze": config.FREEZE_RULES,
    "sampler": config.SAMPLERS,
    "lr_schedule": config.LR_SCHEDULES,
    "mining": config.MINING_METHODS,
}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_a_config_that_survives_json(name):
    preset = PRESETS[name]
    assert set(preset) <= {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = TrainConfig(**preset)
    for option, allowed in CHOICES.items():
        assert getattr(cfg, option) in allowed, option
    assert TrainConfig.from_json(json.loads(json.dumps(cfg.to_json()))) == cfg
    assert 5 in cfg.recall_at and cfg.image_size is not None


@pytest.mark.parametrize("option", sorted(CHOICES))
def test_every_choice_list_is_enforced(option):
    for value in CHOICES[option]:
        assert getattr(TrainConfig(**{option: value}), option) == value
    with pytest.raises(InputError, match="choose one of"):
        TrainConfig(**{option: "nonsense"})


def test_config_checks_and_conversions():
    cfg = TrainConfig(augment={"hflip": True, "crop_scale": [0.5, 1.0]}, image_size=[32, 48])
    assert cfg.augment == AugmentSpec(hflip=True, crop_scale=(0.5, 1.0)) and cfg.augment.enabled
    assert cfg.image_size == (32, 48) and not AugmentSpec().enabled
    with pytest.raises(InputError, match="R@5"):
        TrainConfig(recall_at=(1, 10))
    with pytest.raises(InputError, match="positive"):
        TrainConfig(epochs=0)
    with pytest.raises(InputError, match="unknown training options"):
        TrainConfig.from_json({**TrainConfig().to_json(), "learning_rate": 1.0})
    assert TrainConfig(dropout=0.0).dropout == 0.0
    for bad in (-0.1, 1.0):
        with pytest.raises(InputError, match="dropout"):
            TrainConfig(dropout=bad)


def test_config_module_does_not_import_torch():
    code = "import sys, reference_models.training.config; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
