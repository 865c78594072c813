"""``python -m reference_models describe``: descriptor size, parameters, size and FLOPs.

The numbers follow the counting rules of Berton et al., "Deep Visual Geo-localization
Benchmark", CVPR 2022, Table 3 (see :mod:`reference_models.accounting`). The model is built on
the ``meta`` device, so nothing is allocated or computed and even VGG16 at 480x640 is
described in well under a second. Library use::

    describe_model("resnet18-gem").as_dict()["gflops"]  # 17.29
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from typing import Any

from vprmetrics.errors import InputError

__all__ = ["add_parser", "describe_model", "parse_input_size", "run"]


def parse_input_size(text: str) -> tuple[int, int]:
    """Parse ``HxW`` (e.g. ``480x640``) into ``(480, 640)``."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise InputError(f"--input {text!r} is not HxW with positive integers: write e.g. 480x640")
    return int(parts[0]), int(parts[1])


def describe_model(
    name: str,
    *,
    input_size: tuple[int, int] | None = None,
    view: str | None = None,
    mode: str | None = None,
    **opts: Any,
):
    """Account the registered model ``name`` for one image of ``input_size`` (H, W).

    Args:
        name: registry name (see :func:`reference_models.models.model_names`).
        input_size: (H, W); default: the view's default size in the registry.
        view: input view for multi-view models; default: the first one.
        mode: FLOPs mode; default: the mode of the published numbers (registry).
        opts: forwarded to :func:`reference_models.models.build_model`.

    Returns:
        a :class:`reference_models.accounting.ModelStats`.
    """
    import torch

    from reference_models.accounting import (
        ModelStats,
        count_flops,
        count_parameters,
        flops_mode,
        model_size_bytes,
    )
    from reference_models.models import build_model, get_spec

    spec = get_spec(name)
    view = view or next(iter(spec.inputs))
    if view not in spec.inputs:
        raise InputError(f"model {name!r} has views {list(spec.inputs)}, not {view!r}")
    height, width = input_size or spec.inputs[view]
    mode = mode or spec.flops_mode
    with torch.device("meta"):
        model = build_model(name, **opts)
    images = torch.empty((1, 3, height, width), device="meta")
    with flops_mode(model, mode):  # type: ignore[arg-type]
        flops, out = count_flops(model, images, forward=partial(model.embed, view=view))
    size_bytes = model_size_bytes(model)
    return ModelStats(
        model=name,
        input=f"{height}x{width}",
        flops_mode=mode,
        descriptor_dim=int(out.shape[-1]),
        parameters=count_parameters(model),
        trainable_parameters=count_parameters(model, trainable_only=True),
        size_bytes=size_bytes,
        size_mb=size_bytes / 2**20,
        flops=flops,
        gflops=flops / 1e9,
    )


def run(args: argparse.Namespace) -> int:
    """Print the description of ``args.model`` as ``key: value`` lines or one JSON object."""
    from vprmetrics.errors import require

    require("torch", "models", "describing reference models")
    stats = describe_model(
        args.model,
        input_size=parse_input_size(args.input) if args.input else None,
        view=args.view,
        mode=args.mode,
    ).as_dict()
    if args.json:
        print(json.dumps(stats))
    else:
        width = max(map(len, stats))
        for key, value in stats.items():
            print(f"{key:<{width}}  {value}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``describe`` subcommand (torch is imported only when it runs)."""
    parser = subparsers.add_parser(
        "describe",
        help="descriptor size, parameters, size (MB) and GFLOPs of a reference model",
        description=(
            "Account a reference model with the counting rules of the VG benchmark "
            "(Berton et al. CVPR 2022, Table 3)."
        ),
    )
    parser.add_argument("--model", required=True, help="registry name, e.g. resnet18-netvlad")
    parser.add_argument("--input", help="input size HxW (default: the model's, e.g. 480x640)")
    parser.add_argument("--view", help="input view of multi-view models (default: the first)")
    parser.add_argument(
        "--mode",
        choices=("train", "eval", "backbone_eval"),
        help="train/eval mode for FLOPs (default: the mode of the published numbers)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)
    return parser
