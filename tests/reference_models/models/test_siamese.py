"""The Siamese place recogniser: symmetric logits, one-branch descriptors, local weights."""

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from reference_models.models.registry import build_model  # noqa: E402
from vprmetrics.errors import InputError  # noqa: E402


def test_siamese_logits_symmetry_and_training():
    torch.manual_seed(0)
    model = build_model("siamese-resnet50", hidden_dim=16)
    assert model.descriptor_dim == 2048
    i1, i2 = torch.randn(2, 3, 64, 80), torch.randn(2, 3, 64, 80)
    logits = model(i1, i2)
    assert logits.shape == (2,)
    torch.testing.assert_close(model(i2, i1), logits, rtol=1e-4, atol=1e-5)
    assert model.embed(i1).shape == (2, 2048)
    loss = nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor([1.0, 0.0]))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(i1, i2), model(i2, i1))
        probs = model.predict_proba(i1, i1)
    assert probs.shape == (2,) and ((probs > 0) & (probs < 1)).all()


def test_siamese_branch_refuses_a_file_without_resnet50_tensors(tmp_path):
    path = tmp_path / "not_resnet50.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, path)
    with pytest.raises(InputError, match="lacks"):
        build_model("siamese-resnet50", weights_path=path)
