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


def test_each_query_once_with_its_positive_and_negative():
    torch.manual_seed(0)
    model = build_model("siamese-resnet50", hidden_dim=16).eval()
    queries, database = torch.randn(2, 3, 32, 48), torch.randn(4, 3, 32, 48)
    with torch.no_grad():
        once = model(queries, database)  # query i with database 2i and 2i + 1
        twice = model(queries.repeat_interleave(2, dim=0), database)
    assert once.shape == (4,)
    torch.testing.assert_close(once, twice, rtol=1e-4, atol=1e-5)
    with pytest.raises(InputError, match="split evenly"):
        model(queries, database[:3])


def test_branch_blocks_start_as_their_shortcuts():
    # zero_init_residual: the last BatchNorm scale of every bottleneck is 0 from scratch
    model = build_model("siamese-resnet50", hidden_dim=16)
    blocks = [m for m in model.branch.modules() if hasattr(m, "bn3")]
    assert len(blocks) == 16 and all(torch.count_nonzero(b.bn3.weight) == 0 for b in blocks)
