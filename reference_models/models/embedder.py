"""The interface every descriptor model offers: ``embed(images, view=None)``.

Models are passed around as ``nn.Module``, whose ``__getattr__`` types ``model.embed`` as
``Tensor | Module``; ``cast(Embedder, model).embed(...)`` names the method for the type
checker (nothing happens at run time).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import torch

__all__ = ["Embedder"]


class Embedder(Protocol):
    """A descriptor model: (N, 3, H, W) images (of ``view``, for cross-view models) -> (N, D)."""

    def embed(self, images: torch.Tensor, view: str | None = None) -> torch.Tensor: ...
