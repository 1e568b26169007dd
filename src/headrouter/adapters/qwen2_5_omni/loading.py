"""Loading a local Qwen2.5-Omni checkpoint and its processor (no downloads)."""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn
from transformers import BatchFeature, processing_utils
from transformers.utils import is_torchvision_available
from transformers.video_processing_utils import VideoProcessorMixin


def load_model(path: str | Path, dtype: str = "auto", attn_implementation: str | None = None) -> nn.Module:
    """The model class the checkpoint's config names (full Qwen2.5-Omni or its thinker), from local files only."""
    from transformers import Qwen2_5OmniForConditionalGeneration, Qwen2_5OmniThinkerForConditionalGeneration

    config_file = Path(path) / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file} not found: --model must be a local checkpoint directory")
    architectures = json.loads(config_file.read_text()).get("architectures") or []
    cls = (
        Qwen2_5OmniThinkerForConditionalGeneration
        if "Qwen2_5OmniThinkerForConditionalGeneration" in architectures
        else Qwen2_5OmniForConditionalGeneration
    )
    kwargs = {"dtype": dtype, "local_files_only": True}
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    return cls.from_pretrained(str(path), **kwargs).eval()


def load_processor(path: str | Path):
    """``Qwen2_5OmniProcessor`` from a local checkpoint directory."""
    from transformers import Qwen2_5OmniProcessor

    allow_processors_without_torchvision()
    return Qwen2_5OmniProcessor.from_pretrained(str(path), local_files_only=True)


class VideoStandIn(VideoProcessorMixin):
    """Fills ``Qwen2_5OmniProcessor``'s video slot where torchvision is missing; keeps its settings, refuses videos."""

    def __call__(self, videos, **kwargs) -> BatchFeature:
        """Refuses: videos need transformers' torchvision video processors."""
        raise ImportError("video input needs torchvision; without it this processor takes text, audio and images")


def allow_processors_without_torchvision() -> None:
    """Let transformers build and load processors with ``VideoStandIn`` for the video part, without torchvision.

    Without torchvision transformers exports no ``VideoProcessorMixin``, so the processor's type check on its video
    processor fails, and ``AutoVideoProcessor`` only raises ImportError. This exposes the mixin to that check and
    loads saved video settings into ``VideoStandIn``: only paths that always failed change. A no-op where
    torchvision is installed.
    """
    if is_torchvision_available():
        return
    processing_utils.transformers_module.VideoProcessorMixin = VideoProcessorMixin
    processing_utils.MODALITY_TO_AUTOPROCESSOR_MAPPING._MAPPING_NAMES["video_processor"] = (
        __name__,
        VideoStandIn.__name__,
    )
