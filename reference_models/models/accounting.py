"""Parameter, size and FLOP accounting with the counting rules of the VG benchmark.

The rules reproduce Table 3 of Berton et al., "Deep Visual Geo-localization Benchmark",
CVPR 2022, to the last digit (descriptor size, parameters, MB and GFLOPs). FLOPs are
floating point operations, not multiply-accumulates, counted by forward hooks on *leaf*
modules, each module on its **first call only** (torchvision's ResNet blocks call one
``ReLU`` two or three times; only the first call counts). With ``out`` the number of output
elements, ``in`` the number of input elements, ``C`` the channels and ``g`` the groups:

===============  =====================================================================
Conv2d           ``out * (Cin/g * (2*kh*kw - 1) + (Cin/g - 1))``, ``+ out`` with bias
BatchNorm2d      ``2C + 2*in``, ``+ 2*in`` if affine, ``+ 4*in + 6C`` when training with
                 running statistics
ReLU             ``in``
Linear           ``N * out_features * (2*in_features - 1)``, ``+ N * out_features`` with bias
MaxPool2d        ``out * (k - 1)``; an integer kernel ``k`` counts as ``k`` (not ``k*k``),
                 a tuple kernel as the product of its sides
AvgPool2d        ``out * (k + 1)``, same kernel rule
anything else    0 (plain functions: normalize, GeM's pow, softmax, VLAD sums, interpolate)
===============  =====================================================================

Size in bytes = parameter bytes + buffer bytes (BatchNorm running statistics and the 8-byte
``num_batches_tracked`` included); size in MB = bytes / 2**20; GFLOPs = FLOPs / 1e9.

FLOPs only need shapes, so :func:`count_flops_on_meta` runs the forward on a copy of the
model on the ``meta`` device, and :func:`describe_model` builds a registered model there:
nothing is allocated or computed, and VGG16 at 480x640 takes milliseconds.

>>> describe_model("resnet18-gem").as_dict()["gflops"]
17.29
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, cast

import torch
from torch import nn

from reference_models.models.embedder import Embedder
from reference_models.models.registry import FLOPS_MODES, FlopsMode, build_model, get_spec
from vprmetrics.errors import InputError

__all__ = [
    "ModelStats",
    "count_flops",
    "count_flops_on_meta",
    "count_parameters",
    "describe_model",
    "flops_mode",
    "leaf_flops",
    "model_size_bytes",
]


def _kernel_count(kernel: int | Sequence[int]) -> int:
    return kernel if isinstance(kernel, int) else math.prod(kernel)


def leaf_flops(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> int:
    """FLOPs of one call of a leaf ``module`` under the benchmark's rules (0 if not listed)."""
    if not inputs or not isinstance(inputs[0], torch.Tensor):
        return 0
    if not isinstance(output, torch.Tensor):
        return 0
    n_in, n_out = inputs[0].numel(), output.numel()
    if isinstance(module, nn.Conv2d):
        cin = module.in_channels // module.groups
        kh, kw = module.kernel_size
        flops = n_out * (cin * (2 * kh * kw - 1) + (cin - 1))
        return flops + (n_out if module.bias is not None else 0)
    if isinstance(module, nn.BatchNorm2d):
        c = module.num_features
        flops = 2 * c + 2 * n_in + (2 * n_in if module.affine else 0)
        if module.training and module.track_running_stats:
            flops += 4 * n_in + 6 * c
        return flops
    if isinstance(module, nn.ReLU):
        return n_in
    if isinstance(module, nn.Linear):
        rows = n_in // module.in_features
        flops = rows * module.out_features * (2 * module.in_features - 1)
        return flops + (rows * module.out_features if module.bias is not None else 0)
    if isinstance(module, nn.MaxPool2d):
        return n_out * (_kernel_count(module.kernel_size) - 1)
    if isinstance(module, nn.AvgPool2d):
        return n_out * (_kernel_count(module.kernel_size) + 1)
    return 0


def count_flops(
    model: nn.Module,
    inputs: torch.Tensor | Sequence[torch.Tensor],
    *,
    forward: Callable[..., Any] | None = None,
) -> tuple[int, Any]:
    """Count the FLOPs of one forward pass; return ``(flops, output)``.

    Hooks every leaf module of ``model``; each counts on its first call only. The model's
    train/eval modes are used as they are (see :func:`flops_mode`).

    Args:
        model: the module whose leaves are counted.
        inputs: one tensor or a sequence of tensors passed positionally.
        forward: what to call instead of ``model`` (e.g. ``model.embed``).
    """
    args = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    seen: set[int] = set()
    total = 0

    def hook(module: nn.Module, hook_inputs: tuple[Any, ...], output: Any) -> None:
        nonlocal total
        if id(module) not in seen:
            seen.add(id(module))
            total += leaf_flops(module, hook_inputs, output)

    handles = [
        m.register_forward_hook(hook) for m in model.modules() if next(m.children(), None) is None
    ]
    try:
        with torch.no_grad():
            output = (forward or model)(*args)
    finally:
        for handle in handles:
            handle.remove()
    return total, output


def count_flops_on_meta(
    model: nn.Module,
    input_shapes: Sequence[int] | Sequence[Sequence[int]],
    *,
    mode: FlopsMode | None = None,
    forward: str | None = None,
) -> tuple[int, Any]:
    """Count FLOPs on a ``meta``-device copy of ``model`` (shapes only, nothing computed).

    Args:
        model: any model (left untouched; a copy is moved to ``meta``).
        input_shapes: one shape such as ``(1, 3, 480, 640)`` or a sequence of shapes.
        mode: optional :data:`~reference_models.models.registry.FLOPS_MODES` entry applied
            to the copy.
        forward: name of the method to call instead of ``forward`` (e.g. ``"embed"``).

    Returns:
        ``(flops, output)`` with ``output`` a meta tensor (its shape is the real one).
    """
    shapes = cast(
        "list[Sequence[int]]",
        [input_shapes] if isinstance(input_shapes[0], int) else list(input_shapes),
    )
    meta = model if _is_meta(model) else copy.deepcopy(model).to("meta")
    inputs = [torch.empty(tuple(shape), device="meta") for shape in shapes]
    call = getattr(meta, forward) if forward else None
    if mode is None:
        return count_flops(meta, inputs, forward=call)
    with flops_mode(meta, mode):
        return count_flops(meta, inputs, forward=call)


def _is_meta(model: nn.Module) -> bool:
    tensors = [*model.parameters(), *model.buffers()]
    return bool(tensors) and all(t.is_meta for t in tensors)


@contextmanager
def flops_mode(model: nn.Module, mode: FlopsMode) -> Iterator[nn.Module]:
    """Temporarily set the train/eval modes of ``model`` for counting; restore them after.

    ``backbone_eval`` is the state the NetVLAD rows of Table 3 were counted in: the k-means
    initialisation had put ``model.backbone`` in eval mode, the aggregator stayed in train.
    """
    if mode not in FLOPS_MODES:
        raise InputError(f"unknown FLOPs mode {mode!r}: choose one of {list(FLOPS_MODES)}")
    saved = {m: m.training for m in model.modules()}
    try:
        model.train(mode != "eval")
        if mode == "backbone_eval":
            backbone = getattr(model, "backbone", None)
            if not isinstance(backbone, nn.Module):
                raise InputError(
                    f"mode 'backbone_eval' needs a model with a .backbone, got "
                    f"{type(model).__name__}: use 'train' or 'eval'"
                )
            backbone.eval()
        yield model
    finally:
        for module, training in saved.items():
            module.training = training


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameter elements (frozen ones included unless ``trainable_only``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def model_size_bytes(model: nn.Module) -> int:
    """Parameter bytes + buffer bytes (BatchNorm running stats and ``num_batches_tracked``)."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


@dataclass(frozen=True)
class ModelStats:
    """What ``describe`` reports for one model at one input size."""

    model: str
    input: str
    flops_mode: str
    descriptor_dim: int
    parameters: int
    trainable_parameters: int
    size_bytes: int
    size_mb: float
    flops: int
    gflops: float

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``size_mb`` and ``gflops`` rounded to 2 decimals as published."""
        out = asdict(self)
        out["size_mb"] = round(self.size_mb, 2)
        out["gflops"] = round(self.gflops, 2)
        return out


def describe_model(
    name: str,
    *,
    input_size: tuple[int, int] | None = None,
    view: str | None = None,
    mode: FlopsMode | None = None,
    **opts: Any,
) -> ModelStats:
    """Account the registered model ``name`` for one image of ``input_size`` (H, W).

    Args:
        name: registry name (see :func:`reference_models.models.registry.model_names`).
        input_size: (H, W); default: the view's default size in the registry.
        view: input view for multi-view models; default: the first one.
        mode: FLOPs mode; default: the mode of the published numbers (registry).
        opts: forwarded to :func:`reference_models.models.registry.build_model`.
    """
    spec = get_spec(name)
    view = view or next(iter(spec.inputs))
    if view not in spec.inputs:
        raise InputError(f"model {name!r} has views {list(spec.inputs)}, not {view!r}")
    height, width = input_size or spec.inputs[view]
    mode = mode or spec.flops_mode
    with torch.device("meta"):
        model = build_model(name, **opts)
    images = torch.empty((1, 3, height, width), device="meta")
    with flops_mode(model, mode):
        flops, out = count_flops(
            model, images, forward=partial(cast(Embedder, model).embed, view=view)
        )
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
