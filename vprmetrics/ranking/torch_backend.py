"""The torch backend of the engine's float32 GEMM: CUDA when present, CPU otherwise.

``backend="torch"`` changes only who computes the approximate float32 distances of a tile;
every decision that matters is still re-decided in float64 on the CPU
(:mod:`vprmetrics.ranking.tiles`), so the facts are those of the numpy backend. The
scorer computes, in float32 on the device, ``|q|^2 + |x|^2 - 2 q.x`` (l2) or ``-q.x``
(ip, cosine on unit rows): the form whose error :func:`vprmetrics.ranking.distances.
float32_margin` bounds for any summation order. TF32 and reduced-precision matmul would
break that bound (10 mantissa bits instead of 23), so they are switched off while a tile
is scored and restored afterwards. The last database block stays on the device while the
query chunks of a tile loop pass over it.

>>> import numpy as np
>>> s = torch_scorer("l2")  # doctest: +SKIP
>>> s(np.ones((1, 2), np.float32), np.zeros((3, 2), np.float32)).tolist()  # doctest: +SKIP
[[2.0, 2.0, 2.0]]
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator

import numpy as np

from vprmetrics.errors import require

__all__ = ["device_name", "exact_float32", "torch_scorer"]


def _torch():
    return require("torch", "models", "the torch backend")


def device_name() -> str:
    """``"cuda"`` when torch sees a CUDA device, else ``"cpu"``."""
    return "cuda" if _torch().cuda.is_available() else "cpu"


@contextlib.contextmanager
def exact_float32() -> Iterator[None]:
    """Full float32 matmul on the device (no TF32, no bf16 passes) inside; the settings
    restored after. Uses torch's ``fp32_precision`` settings (torch >= 2.9) where they
    exist, else the legacy ``allow_tf32`` and ``float32_matmul_precision``."""
    torch = _torch()
    backends = [torch.backends.cuda.matmul, torch.backends.mkldnn.matmul]
    if all(hasattr(b, "fp32_precision") for b in backends):
        saved = [b.fp32_precision for b in backends]
        for b in backends:
            b.fp32_precision = "ieee"
        try:
            yield
        finally:
            for b, value in zip(backends, saved, strict=True):
                b.fp32_precision = value
        return
    precision = torch.get_float32_matmul_precision()
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.set_float32_matmul_precision("highest")
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(precision)
        torch.backends.cuda.matmul.allow_tf32 = tf32


def torch_scorer(metric: str, device: str | None = None) -> Callable[..., np.ndarray]:
    """``(q32, x32, out=None) -> d~``: the float32 approximate distances of a tile."""
    torch = _torch()
    dev = torch.device(device or device_name())
    held: dict = {}  # the last database block: its numpy array (kept alive) and tensors

    def block(x32: np.ndarray):
        if held.get("array") is not x32:
            with warnings.catch_warnings():  # a read-only memory map: never written to
                warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
                xt = torch.from_numpy(np.ascontiguousarray(x32)).to(dev)
            held.update(array=x32, x=xt, sq=(xt * xt).sum(dim=1) if metric == "l2" else None)
        return held["x"], held["sq"]

    def score(q32: np.ndarray, x32: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        with exact_float32(), torch.no_grad():
            xt, x_sq = block(x32)
            qt = torch.from_numpy(np.ascontiguousarray(q32, dtype=np.float32)).to(dev)
            s = qt @ xt.T
            if metric == "l2":
                s.mul_(-2.0).add_(x_sq[None, :]).add_((qt * qt).sum(dim=1)[:, None])
            else:
                s.neg_()
            result = s.cpu().numpy()
        if out is not None:
            out[...] = result
            return out
        return result

    return score
