"""Export round-trips: submission .npz in protocol order, scored by vprmetrics; TorchScript."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reference_models.export import (  # noqa: E402
    export_submission,
    export_torchscript,
    load_run_model,
)
from reference_models.images import ImageSpec, ImageStore, normalize  # noqa: E402
from reference_models.inference import describe_images, evaluate_split  # noqa: E402
from vprmetrics.data.loaders import load_dataset  # noqa: E402
from vprmetrics.data.protocol import load_protocol  # noqa: E402
from vprmetrics.data.submission import load_submission  # noqa: E402
from vprmetrics.data.validation import validate_submission  # noqa: E402
from vprmetrics.errors import InputError  # noqa: E402
from vprmetrics.metrics.recall import recall_at_n  # noqa: E402
from vprmetrics.ranking.engine import rank  # noqa: E402


def test_submission_round_trip(trained):
    data, root = trained
    out = root / "s.npz"
    summary = export_submission(root / "run", "tinytown", data, out, device="cpu")
    assert summary["dim"] == 256 and summary["queries"] == 10 and summary["database"] == 20
    sub = load_submission(out)
    protocol = load_protocol("tinytown")
    dataset = load_dataset(protocol, data)
    assert sub.query_ids.tolist() == dataset.query_ids.tolist()
    assert sub.database_ids.tolist() == dataset.database_ids.tolist()
    problems = [p for p in validate_submission(sub, protocol, dataset) if p.severity == "error"]
    assert not problems, problems
    # the exported descriptors are the model's, in protocol order
    model, cfg = load_run_model(root / "run")
    spec = ImageSpec(cfg.image_size)
    db_store = ImageStore(dataset.root, dataset.database_ids, spec)
    q_store = ImageStore(dataset.root, dataset.query_ids, spec)
    np.testing.assert_allclose(sub.database, describe_images(model, db_store), rtol=1e-5, atol=1e-6)
    # and vprmetrics scores them as the training loop's evaluation does
    facts = rank(sub.queries, sub.database, dataset.ground_truth(), k=10)
    assert recall_at_n(facts, [1, 5, 10]) == evaluate_split(model, dataset, db_store, q_store)


def test_torchscript_matches_the_model(trained):
    _, root = trained
    path = export_torchscript(root / "run", root / "extractor.pt")
    with pytest.warns(FutureWarning):  # torch marks TorchScript deprecated, it still works
        scripted = torch.jit.load(str(path))
    model, _ = load_run_model(root / "run")
    x = torch.rand(3, 3, 32, 48)
    with torch.no_grad():
        np.testing.assert_allclose(
            scripted(x).numpy(), model.embed(normalize(x * 255)).numpy(), rtol=1e-4, atol=1e-5
        )


def test_run_and_checkpoint_must_exist(trained, tmp_path):
    _, root = trained
    with pytest.raises(InputError, match="not a training run"):
        load_run_model(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        load_run_model(root / "run", checkpoint=str(tmp_path / "missing.pt"))
    model, cfg = load_run_model(root / "run", checkpoint="last")
    assert not model.training and cfg.model == "resnet18-gem"
