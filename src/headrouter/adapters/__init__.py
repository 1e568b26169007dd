"""Model families headrouter can prune, one adapter module (or folder) each, and loading by family."""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from headrouter.adapters.audio_flamingo3.adapter import AudioFlamingo3Adapter
from headrouter.adapters.base import ModelAdapter
from headrouter.adapters.gemma3n.adapter import Gemma3nAdapter
from headrouter.adapters.musicflamingo.adapter import MusicFlamingoAdapter
from headrouter.adapters.phi4_multimodal.adapter import Phi4MultimodalAdapter
from headrouter.adapters.qwen2_5_omni.adapter import Qwen2_5OmniAdapter
from headrouter.adapters.qwen2_audio.adapter import Qwen2AudioAdapter
from headrouter.adapters.qwen3_omni_moe.adapter import Qwen3OmniMoeAdapter
from headrouter.adapters.voxtral.adapter import VoxtralAdapter

ADAPTERS: list[type[ModelAdapter]] = [
    Qwen2_5OmniAdapter,
    Qwen2AudioAdapter,
    AudioFlamingo3Adapter,
    Qwen3OmniMoeAdapter,
    VoxtralAdapter,
    Phi4MultimodalAdapter,
    MusicFlamingoAdapter,
    Gemma3nAdapter,
]


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


def adapter_class_for_checkpoint(path: str | Path) -> type[ModelAdapter]:
    """The adapter class of a local checkpoint, from the ``architectures`` its ``config.json`` names (no weights are
    read); ``FileNotFoundError`` without a config, ``ValueError`` for a family headrouter does not support."""
    config_file = Path(path) / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file} not found: expected a local checkpoint directory")
    architectures = json.loads(config_file.read_text()).get("architectures") or []
    for adapter in ADAPTERS:
        if any(name in adapter.model_classes for name in architectures):
            return adapter
    raise ValueError(
        f"{path}: headrouter cannot prune {', '.join(architectures) or 'a model without architectures'}; "
        f"supported models: {', '.join(supported_models())}"
    )


def load_model(path: str | Path, dtype: str = "auto", attn_implementation: str | None = None) -> nn.Module:
    """The model of a local checkpoint of a supported family (local files only), in eval mode."""
    return adapter_class_for_checkpoint(path).load_model(path, dtype=dtype, attn_implementation=attn_implementation)


def load_processor(path: str | Path):
    """The processor of a local checkpoint of a supported family."""
    return adapter_class_for_checkpoint(path).load_processor(path)


__all__ = [
    "ADAPTERS",
    "AudioFlamingo3Adapter",
    "Gemma3nAdapter",
    "ModelAdapter",
    "MusicFlamingoAdapter",
    "Phi4MultimodalAdapter",
    "Qwen2_5OmniAdapter",
    "Qwen2AudioAdapter",
    "Qwen3OmniMoeAdapter",
    "VoxtralAdapter",
    "adapter_class_for_checkpoint",
    "adapter_for",
    "load_model",
    "load_processor",
    "supported_models",
]
