"""``python -m reference_models describe``."""

import json
import subprocess
import sys

import pytest

pytest.importorskip("torch")

from reference_models.cli import SUBCOMMANDS, main


def test_describe_json(capsys):
    assert main(["describe", "--model", "resnet18-netvlad", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["descriptor_dim"] == 16384
    assert out["parameters"] == 2815552
    assert out["size_mb"] == 10.76
    assert out["gflops"] == 17.27
    assert out["input"] == "480x640" and out["flops_mode"] == "backbone_eval"


def test_describe_text_and_input(capsys):
    assert main(["describe", "--model", "resnet18-gem", "--input", "240x320"]) == 0
    lines = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert lines["descriptor_dim"] == "256" and lines["input"] == "240x320"
    assert 0 < float(lines["gflops"]) < 17.29


@pytest.mark.parametrize(
    "argv", [["describe", "--model", "nope"], ["describe", "--model", "vgg16-gem", "--input", "4x"]]
)
def test_describe_errors_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("reference_models describe: error:") and "\n" not in err


def test_subcommand_registry_and_module_entry_point():
    assert SUBCOMMANDS == {
        "describe": "reference_models.cli.describe",
        "train": "reference_models.cli.train",
        "export": "reference_models.cli.export",
        "study": "reference_models.cli.study",
    }
    # the package and the CLI parser import without torch
    code = (
        "import sys, reference_models, reference_models.cli as cli; cli.build_parser(); "
        "print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    done = subprocess.run(
        [sys.executable, "-m", "reference_models", "describe", "--model", "resnet18-crn", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["parameters"] == 3_345_129
    done = subprocess.run(
        [sys.executable, "-m", "reference_models", "describe", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "{train,eval,backbone_eval}" in done.stdout
