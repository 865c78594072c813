"""Accounting against the published numbers (Berton et al. CVPR 2022, Table 3).

``descriptor_dim``, GFLOPs and MB are the paper's Table 3 (input 1x3x480x640); the exact
FLOPs, bytes and parameter counts are the integers that the torchvision models give under
the benchmark's counting rules, so the rows are compared to the last digit. Every forward at
480x640 runs on the ``meta`` device.
"""

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from reference_models.models.accounting import (  # noqa: E402
    count_flops,
    count_flops_on_meta,
    count_parameters,
    describe_model,
    flops_mode,
    leaf_flops,
    model_size_bytes,
)
from reference_models.models.aggregators import CRN, CRN2  # noqa: E402
from reference_models.models.registry import build_model  # noqa: E402
from vprmetrics.errors import InputError  # noqa: E402

# backbone, aggregation, descriptor_dim, gflops, size_mb, flops_exact, size_bytes, parameters, mode
TABLE3 = [
    ("resnet18", "gem", 256, 17.29, 10.63, 17286469120, 11149180, 2782785, "train"),
    ("resnet18", "netvlad", 16384, 17.27, 10.76, 17267946880, 11280248, 2815552, "backbone_eval"),
    ("resnet50", "gem", 1024, 40.61, 32.71, 40605203968, 34295900, 8543297, "train"),
    ("resnet50", "netvlad", 65536, 40.51, 33.21, 40505502592, 34820184, 8674368, "backbone_eval"),
    ("vgg16", "gem", 512, 188.01, 56.13, 188009472000, 58858756, 14714689, "train"),
    ("vgg16", "netvlad", 32768, 188.09, 56.38, 188088038400, 59120896, 14780224, "backbone_eval"),
    ("resnet101", "gem", 1024, 86.29, 105.36, 86285745664, 110473716, 27535425, "train"),
]

# name, mode, descriptor_dim, parameters, size_mb, gflops: rows the paper does not list,
# predicted with the same rules
EXTRA = [
    ("resnet101-netvlad", "backbone_eval", 65536, 27_666_496, 105.86, 86.06),
    ("resnet18-crn", "train", 16384, 3_345_129, 12.78, 17.64),
    ("resnet50-crn", "train", 65536, 10_792_169, 41.29, 42.03),
]

INPUT = (1, 3, 480, 640)


def _meta_model(name: str) -> nn.Module:
    with torch.device("meta"):
        return build_model(name)


@pytest.mark.parametrize("row", TABLE3, ids=[f"{r[0]}-{r[1]}" for r in TABLE3])
def test_table3_row_exact(row):
    backbone, agg, dim, gflops, size_mb, flops_exact, size_bytes, params, mode = row
    model = _meta_model(f"{backbone}-{agg}")
    flops, out = count_flops_on_meta(model, INPUT, mode=mode)
    assert tuple(out.shape) == (1, dim)
    assert model.descriptor_dim == dim
    assert count_parameters(model) == params
    assert model_size_bytes(model) == size_bytes
    assert flops == flops_exact
    assert round(flops / 1e9, 2) == gflops
    assert round(size_bytes / 2**20, 2) == size_mb


@pytest.mark.parametrize("row", TABLE3, ids=[f"{r[0]}-{r[1]}" for r in TABLE3])
def test_table3_row_through_describe(row):
    backbone, agg, dim, gflops, size_mb, flops_exact, size_bytes, params, mode = row
    stats = describe_model(f"{backbone}-{agg}").as_dict()  # registry default mode
    assert stats["flops_mode"] == mode
    assert (stats["descriptor_dim"], stats["parameters"], stats["size_bytes"]) == (
        dim,
        params,
        size_bytes,
    )
    assert (stats["flops"], stats["gflops"], stats["size_mb"]) == (flops_exact, gflops, size_mb)


@pytest.mark.parametrize("row", EXTRA, ids=[r[0] for r in EXTRA])
def test_extra_rows(row):
    name, mode, dim, params, size_mb, gflops = row
    stats = describe_model(name, mode=mode)
    assert stats.descriptor_dim == dim
    assert stats.parameters == params
    assert round(stats.size_mb, 2) == size_mb
    assert round(stats.gflops, 2) == gflops


@pytest.mark.parametrize("channels", [256, 512, 1024])
def test_crn_parameter_formula(channels):
    with torch.device("meta"):
        crn = CRN(channels)
    assert count_parameters(crn) == 2068 * channels + 169
    assert count_parameters(crn, trainable_only=True) == 2068 * channels + 84  # fixed 1x1


def test_crn_published_counts_and_crn2():
    assert [count_parameters(CRN(c)) for c in (256, 512, 1024)] == [529_577, 1_058_985, 2_117_801]
    assert count_parameters(CRN2(256)) == 245_049


def test_leaf_rules_by_hand():
    def one(module, shape):
        x = torch.zeros(shape)
        return leaf_flops(module, (x,), module(x))

    assert one(nn.Conv2d(4, 6, 3, padding=1), (1, 4, 5, 5)) == 150 * (4 * 17 + 3) + 150
    assert one(nn.Conv2d(4, 4, 3, padding=1, groups=2, bias=False), (1, 4, 5, 5)) == 100 * 35
    bn = nn.BatchNorm2d(4)
    assert one(bn.eval(), (1, 4, 5, 5)) == 2 * 4 + 4 * 100
    assert one(bn.train(), (1, 4, 5, 5)) == 2 * 4 + 4 * 100 + 4 * 100 + 6 * 4
    assert one(nn.BatchNorm2d(4, affine=False).eval(), (1, 4, 5, 5)) == 2 * 4 + 2 * 100
    assert one(nn.ReLU(), (2, 3, 4, 5)) == 120
    assert one(nn.Linear(10, 3), (5, 10)) == 5 * 3 * 19 + 15
    assert one(nn.MaxPool2d(3, 2), (1, 1, 7, 7)) == 9 * 2  # integer kernel counts as k
    assert one(nn.MaxPool2d((3, 3), 2), (1, 1, 7, 7)) == 9 * 8
    assert one(nn.AvgPool2d(3, 2, ceil_mode=True), (1, 1, 4, 5)) == 4 * 4
    assert one(nn.Sigmoid(), (1, 10)) == 0


def test_first_call_only():
    relu = nn.ReLU()
    net = nn.Sequential(relu, relu, nn.Conv2d(1, 1, 1, bias=False), relu)
    flops, _ = count_flops(net, torch.zeros(1, 1, 2, 3))
    assert flops == 6 + 6  # one ReLU call + the 1x1 conv (6 outputs x 1 flop)


def test_meta_matches_cpu_and_leaves_model_untouched():
    model = build_model("resnet18-crn").train()
    model.backbone.eval()
    before = {n: m.training for n, m in model.named_modules()}
    x = torch.randn(1, 3, 64, 96)
    cpu_flops, cpu_out = count_flops(model, x)
    meta_flops, meta_out = count_flops_on_meta(model, tuple(x.shape))
    assert cpu_flops == meta_flops > 0
    assert cpu_out.shape == meta_out.shape
    assert next(model.parameters()).device.type == "cpu"
    with flops_mode(model, "eval"):
        assert not any(m.training for m in model.modules())
    assert {n: m.training for n, m in model.named_modules()} == before


def test_describe_checks_view_and_mode():
    with pytest.raises(InputError, match="views"):
        describe_model("resnet18-gem", view="aerial")
    with pytest.raises(InputError, match="FLOPs mode"):
        describe_model("resnet18-gem", mode="inference")
    stats = describe_model("siamese-resnet50")  # the registry's default input, 128x384
    assert stats.input == "128x384" and stats.descriptor_dim == 2048
