"""``python -m reference_models export``."""

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

from reference_models.cli import main


def test_cli_export(trained, capsys):
    data, root = trained
    code = main(
        [
            "export",
            "--run",
            str(root / "run"),
            "--protocol",
            "tinytown",
            "--dataset-root",
            str(data),
            "--out",
            str(root / "cli.npz"),
            "--torchscript",
            str(root / "cli.ts"),
            "--input-size",
            "32x48",
            "--device",
            "cpu",
            "--quiet",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert Path(summary["torchscript"]).is_file() and Path(summary["path"]).is_file()
    assert (summary["queries"], summary["database"], summary["model"]) == (10, 20, "resnet18-gem")
    missing = ["export", "--run", str(root / "nope"), "--protocol", "tinytown"]
    assert main([*missing, "--dataset-root", str(data), "--out", str(root / "x.npz")]) == 2
    assert "not a training run" in capsys.readouterr().err
