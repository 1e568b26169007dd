"""Qwen2.5-Omni: the full model (pruning goes into its thinker) and the thinker alone."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from headrouter.adapters.base import ModelAdapter
from headrouter.adapters.qwen2_5_omni import bench, loading
from headrouter.adapters.rotary import input_norm_key_projection, rotary_query_key

logger = logging.getLogger("headrouter")


class Qwen2_5OmniAdapter(ModelAdapter):
    model_classes = ("Qwen2_5OmniForConditionalGeneration", "Qwen2_5OmniThinkerForConditionalGeneration")

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self.thinker = model.thinker if type(model).__name__ == "Qwen2_5OmniForConditionalGeneration" else model

    def on_wrap(self) -> None:
        if getattr(self.model, "has_talker", False):
            logger.warning(
                "headrouter prunes the thinker only; speech output through the talker needs the thinker's "
                "full-length hidden states and is not supported while pruning: generate with generation_mode='text'."
            )

    @property
    def entry(self) -> nn.Module:
        return self.thinker.model

    @property
    def forward_module(self) -> nn.Module:
        return self.thinker

    def check_call(self, kwargs: dict) -> None:
        # the full model's speech output asks the thinker for hidden states, and feeds those of every prompt token
        # to the talker: pruned layers have fewer
        if kwargs.get("output_hidden_states") and getattr(self.model, "has_talker", False):
            raise RuntimeError(
                "headrouter cannot prune for speech output: a Qwen2.5-Omni model with a talker asks its thinker for "
                "output_hidden_states and feeds the talker those of every prompt token, which pruning shortens. "
                "Generate text with generation_mode='text', disable the talker (model.disable_talker()), or unwrap "
                "the model"
            )

    @property
    def layers(self) -> nn.ModuleList:
        return self.thinker.model.language_model.layers

    @property
    def text_config(self):
        return self.thinker.model.language_model.config

    @property
    def audio_token_id(self) -> int:
        return int(self.thinker.config.audio_token_id)

    def attention(self, layer: nn.Module) -> nn.Module:
        return layer.self_attn

    def key_projection(self, index: int) -> Callable[[torch.Tensor], torch.Tensor]:
        return input_norm_key_projection(self.layers[index])

    @classmethod
    def load_model(cls, path: str | Path, dtype: str = "auto", attn_implementation: str | None = None) -> nn.Module:
        return loading.load_model(path, dtype=dtype, attn_implementation=attn_implementation)

    @classmethod
    def load_processor(cls, path: str | Path):
        return loading.load_processor(path)

    # benchmarking: the code lives in .bench
    family = "qwen2_5_omni"
    title = "Qwen2.5-Omni"
    published_shapes = bench.PUBLISHED_SHAPES

    @classmethod
    def random_model(cls, shape, num_layers, *, dtype=torch.float32, attn_implementation="sdpa") -> nn.Module:
        return bench.random_model(shape, num_layers, dtype=dtype, attn_implementation=attn_implementation)

    @classmethod
    def random_model_from_config(cls, path, *, dtype=torch.float32, attn_implementation="sdpa") -> nn.Module:
        return bench.random_model_from_config(path, dtype=dtype, attn_implementation=attn_implementation)

    def placeholder_prompt(self, audio_tokens, *, text_before, text_after, seed=0):
        return bench.placeholder_prompt(
            self.thinker, audio_tokens, text_before=text_before, text_after=text_after, seed=seed
        )

    def special_token_ids(self) -> list[int]:
        return bench.special_token_ids(self.thinker)

    def project_query_key(self, attention, hidden_states, position_embeddings, query_index):
        # imported here, where the model (and so its modeling code) exists: importing headrouter stays light
        from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import rotate_half

        return rotary_query_key(attention, hidden_states, position_embeddings, query_index, rotate_half)
