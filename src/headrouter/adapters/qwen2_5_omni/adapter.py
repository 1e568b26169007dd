"""Qwen2.5-Omni: the full model (pruning goes into its thinker) and the thinker alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from headrouter.adapters.omni_thinker import OmniThinkerAdapter
from headrouter.adapters.qwen2_5_omni import bench, loading
from headrouter.adapters.rotary import input_norm_key_projection, rotary_query_key


class Qwen2_5OmniAdapter(OmniThinkerAdapter):
    model_classes = ("Qwen2_5OmniForConditionalGeneration", "Qwen2_5OmniThinkerForConditionalGeneration")

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

    published_audio_towers = bench.PUBLISHED_AUDIO_TOWERS

    @property
    def audio_tower(self) -> nn.Module:
        return self.thinker.model.audio_tower

    @classmethod
    def random_model_with_audio_tower(
        cls, shape, num_layers, tower_layers, *, dtype=torch.float32, attn_implementation="sdpa"
    ) -> nn.Module:
        return bench.random_model_with_audio_tower(
            shape, num_layers, tower_layers, dtype=dtype, attn_implementation=attn_implementation
        )

    def feature_prompt(self, audio_tokens, *, text_before, text_after, seed=0):
        return bench.feature_prompt(
            self.thinker, audio_tokens, text_before=text_before, text_after=text_after, seed=seed
        )

    def project_query_key(self, attention, hidden_states, position_embeddings, query_index):
        # imported here, where the model (and so its modeling code) exists: importing headrouter stays light
        from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import rotate_half

        return rotary_query_key(attention, hidden_states, position_embeddings, query_index, rotate_half)
