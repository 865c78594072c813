"""Describing images with a model; devices and mixed precision."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from PIL import Image  # noqa: E402

from reference_models.images import ImageSpec, ImageStore  # noqa: E402
from reference_models.inference import (  # noqa: E402
    describe_images,
    progress_bar,
    resolve_amp,
    resolve_device,
)
from reference_models.models.registry import build_model  # noqa: E402
from vprmetrics.errors import InputError  # noqa: E402


def test_describe_images_batches_restores_the_mode_and_handles_no_images(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(5):
        pixels = rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
    store = ImageStore(tmp_path, [f"{i}.png" for i in range(5)], ImageSpec())
    model = build_model("resnet18-gem").train()
    whole = describe_images(model, store, batch_size=5)
    assert model.training and whole.dtype == np.float32 and whole.shape == (5, 256)
    np.testing.assert_allclose(describe_images(model, store, batch_size=2), whole, atol=1e-5)
    np.testing.assert_allclose(describe_images(model, store, [4, 1]), whole[[4, 1]], atol=1e-5)
    assert describe_images(model, store, []).shape == (0, 256)


def test_devices_and_amp():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            resolve_device("cuda")
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert (resolve_amp(None, cpu), resolve_amp(True, cpu)) == (False, False)
    assert (resolve_amp(None, cuda), resolve_amp(False, cuda)) == (True, False)
    assert list(progress_bar(range(3), 3, "x", enabled=False)) == [0, 1, 2]


def test_progress_prints_a_line_per_tenth_when_stderr_is_not_a_terminal(capsys):
    """A logged run (``make demo > log``) is not silent: one line per tenth of the steps."""
    assert list(progress_bar(range(20), 20, "training", enabled=True)) == list(range(20))
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("training: 2/20 (10%), ") and lines[-1].startswith("training: 20/20")
