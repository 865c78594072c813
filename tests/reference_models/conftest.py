"""Shared fixtures of the reference-model tests: a tiny VG-layout town and a trained run.

``tiny`` is the town (a fresh copy per test, 32x48 images), ``make_tiny`` makes one with
other image sizes, ``tiny_config`` builds a fast CPU training configuration for it,
``trained`` is one run trained on it, shared by a test module (``(data folder, folder
holding the run folder "run")``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from reference_models.studies.common import scale_options
from reference_models.training.config import TrainConfig

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


def make_tiny_vg(
    root: Path, monkeypatch: pytest.MonkeyPatch, places: int = 10, size: tuple[int, int] = (32, 48)
) -> Path:
    """A VG-layout town with its protocol ``tinytown`` (made findable through the
    environment): places 40 m apart on a line, 2 database images per place, one query per
    place; each place has its own colour pattern (queries: noisier)."""
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


def _tiny_config(root: Path, out: Path, **kw: Any) -> TrainConfig:
    """The studies' ``--scale tiny`` training options (without their early stop) on the
    tiny town."""
    base: dict[str, Any] = scale_options("tiny")
    del base["patience"]
    base.update(
        model="resnet18-gem",
        protocol="tinytown",
        dataset_root=str(root),
        out=str(out),
        progress=False,
        threads=2,
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture
def make_tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """``make_tiny(size=(H, W))``: the tiny town under ``tmp_path/data``."""

    def make(size: tuple[int, int] = (32, 48)) -> Path:
        return make_tiny_vg(tmp_path / "data", monkeypatch, size=size)

    return make


@pytest.fixture
def tiny(make_tiny: Callable[..., Path]) -> Path:
    return make_tiny()


@pytest.fixture
def tiny_config() -> Callable[..., TrainConfig]:
    """``tiny_config(data, out, **overrides)``: a one-epoch CPU run on the tiny town."""
    return _tiny_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    pytest.importorskip("torch")
    from reference_models.training.loop import train

    root = tmp_path_factory.mktemp("trained")
    mp = pytest.MonkeyPatch()
    data = make_tiny_vg(root / "data", mp)
    train(_tiny_config(data, root / "run"))
    yield data, root
    mp.undo()
