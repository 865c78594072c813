"""``python -m reference_models train``: options, presets, choices and errors."""

import argparse
import json

import pytest

from reference_models.cli import build_parser, main
from reference_models.cli.options import parse_augment, parse_input_size
from reference_models.cli.train import add_parser, config_from_args
from reference_models.training import config
from vprmetrics.errors import InputError


def test_choices_are_the_config_lists():
    parser = add_parser(argparse.ArgumentParser().add_subparsers())
    choices = {a.dest: a.choices for a in parser._actions if a.choices is not None}
    assert choices == {
        "preset": tuple(config.PRESETS),
        "mining": config.MINING_METHODS,
        "loss": config.LOSS_NAMES + config.CROSSVIEW_LOSSES,
        "optimizer": config.OPTIMIZERS,
        "freeze": config.FREEZE_RULES,
        "schedule": config.SCHEDULES,
        "amp": ("on", "off"),
    }


def test_preset_then_explicit_options():
    required = ["--model", "resnet18-gem", "--protocol", "p", "--dataset-root", "d", "--out", "o"]
    args = build_parser().parse_args(
        ["train", *required, "--preset", "cpu-quick", "--lr", "0.5", "--amp", "off", "--quiet"]
    )
    cfg = config_from_args(args)
    assert cfg.lr == 0.5 and cfg.sampler == "places" and cfg.image_size == (48, 96)
    assert cfg.amp is False and cfg.progress is False
    args = build_parser().parse_args(["train", *required])
    assert config_from_args(args) == config.TrainConfig(
        model="resnet18-gem", protocol="p", dataset_root="d", out="o"
    )


def test_option_parsers():
    assert parse_input_size("96x128") == (96, 128)
    with pytest.raises(InputError, match="HxW"):
        parse_input_size("96")
    spec = parse_augment("jitter, crop")
    assert (spec.brightness, spec.hue, spec.hflip, spec.crop_scale) == (0.4, 0.1, False, (0.7, 1.0))
    with pytest.raises(InputError, match="comma list"):
        parse_augment("blur")


def test_cli_train(tiny, tmp_path, capsys):
    pytest.importorskip("torch")
    code = main(
        [
            "train",
            "--model",
            "resnet18-gem",
            "--protocol",
            "tinytown",
            "--dataset-root",
            str(tiny),
            "--out",
            str(tmp_path / "cli"),
            "--preset",
            "cpu-quick",
            "--epochs",
            "1",
            "--queries-per-epoch",
            "4",
            "--batch-size",
            "2",
            "--image-size",
            "32x48",
            "--augment",
            "jitter,crop",
            "--quiet",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["epochs_run"] == 1 and "history" not in summary
    cfg = json.loads((tmp_path / "cli" / "config.json").read_text())
    assert cfg["image_size"] == [32, 48] and cfg["lr"] == 1e-3 and cfg["augment"]["hflip"] is False
    wrong = ["train", "--model", "nope", "--protocol", "tinytown", "--dataset-root", str(tiny)]
    assert main([*wrong, "--out", str(tmp_path / "x"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("reference_models train: error: unknown model") and "\n" not in err
