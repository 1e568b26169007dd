"""The adapter half shared by models that put an audio tower in front of a Qwen2 decoder: ``model.model`` receives
``input_ids``, the padding mask and the cache before the tower runs and scatters its output into the placeholders;
``model.model.language_model`` is a Qwen2 decoder (q/k/v with bias, no q/k norms, 1-D RoPE, full attention).
Qwen2-Audio and Audio Flamingo 3 are such models; their adapters add only what differs (inputs they refuse, how
their processors take long audio)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from headrouter.adapters.base import ModelAdapter
from headrouter.adapters.rotary import input_norm_key_projection, rotary_query_key


class Qwen2DecoderAdapter(ModelAdapter):
    """A model of ``model_classes[0]`` (loaded with that transformers class) with its ``processor_class``."""

    processor_class: ClassVar[str] = ""
    """The transformers class name of the family's processor."""

    @property
    def entry(self) -> nn.Module:
        return self.model.model

    @property
    def forward_module(self) -> nn.Module:
        return self.model

    @property
    def layers(self) -> nn.ModuleList:
        return self.model.model.language_model.layers

    @property
    def text_config(self):
        return self.model.model.language_model.config

    @property
    def audio_token_id(self) -> int:
        return int(self.model.config.audio_token_id)

    def attention(self, layer: nn.Module) -> nn.Module:
        return layer.self_attn

    def key_projection(self, index: int) -> Callable[[torch.Tensor], torch.Tensor]:
        return input_norm_key_projection(self.layers[index])

    def project_query_key(self, attention, hidden_states, position_embeddings, query_index):
        # imported here, where the model (and so its modeling code) exists: importing headrouter stays light
        from transformers.models.qwen2.modeling_qwen2 import rotate_half

        return rotary_query_key(attention, hidden_states, position_embeddings, query_index, rotate_half)

    @classmethod
    def load_model(cls, path: str | Path, dtype: str = "auto", attn_implementation: str | None = None) -> nn.Module:
        import transformers

        kwargs = {"dtype": dtype, "local_files_only": True}
        if attn_implementation is not None:
            kwargs["attn_implementation"] = attn_implementation
        return getattr(transformers, cls.model_classes[0]).from_pretrained(str(path), **kwargs).eval()

    @classmethod
    def load_processor(cls, path: str | Path):
        import transformers

        return getattr(transformers, cls.processor_class).from_pretrained(str(path), local_files_only=True)
