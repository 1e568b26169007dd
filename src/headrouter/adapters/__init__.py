"""Model families headrouter can prune, one adapter file each."""

from __future__ import annotations

from torch import nn

from headrouter.adapters.base import ModelAdapter
from headrouter.adapters.qwen2_5_omni.adapter import Qwen2_5OmniAdapter

ADAPTERS: list[type[ModelAdapter]] = [Qwen2_5OmniAdapter]


def supported_models() -> list[str]:
    """Class names of the models ``wrap`` accepts."""
    return [name for adapter in ADAPTERS for name in adapter.model_classes]


def adapter_for(model: nn.Module) -> ModelAdapter:
    """The adapter for ``model``; ``TypeError`` naming the supported classes if there is none."""
    name = type(model).__name__
    for adapter in ADAPTERS:
        if name in adapter.model_classes:
            return adapter(model)
    raise TypeError(f"headrouter cannot prune a {name}; supported models: {', '.join(supported_models())}")


__all__ = ["ADAPTERS", "ModelAdapter", "Qwen2_5OmniAdapter", "adapter_for", "supported_models"]
