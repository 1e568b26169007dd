"""Qwen2-Audio (``Qwen2AudioForConditionalGeneration``): a Whisper-like audio tower, a linear projector and a Qwen2
decoder with 1-D RoPE. The processor writes one ``<|AUDIO|>`` placeholder per audio token (25 per second), so the
audio positions are where ``input_ids`` holds the placeholder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from headrouter.adapters.base import ModelAdapter
from headrouter.adapters.rotary import input_norm_key_projection, rotary_query_key


class Qwen2AudioAdapter(ModelAdapter):
    model_classes = ("Qwen2AudioForConditionalGeneration",)

    @property
    def entry(self) -> nn.Module:
        # Qwen2AudioModel: gets input_ids, attention_mask and the cache before its audio tower runs
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

    def check_call(self, kwargs: dict) -> None:
        # transformers' legacy path: one placeholder per clip, expanded inside the model to its audio length, so the
        # decoder's sequence is not the input_ids' one. The model takes that path when no two placeholders are
        # adjacent anywhere in the batch; so does this check.
        input_ids = kwargs.get("input_ids")
        if input_ids is None or kwargs.get("input_features") is None or input_ids.shape[1] == 1:
            return
        audio = input_ids == self.audio_token_id
        if not bool((audio[:, :-1] & audio[:, 1:]).any()):
            raise ValueError(
                "headrouter cannot prune Qwen2-Audio inputs with one <|AUDIO|> placeholder per clip (transformers' "
                "legacy expansion inside the model): build the inputs with Qwen2AudioProcessor, which writes one "
                "placeholder per audio token"
            )

    def key_projection(self, index: int) -> Callable[[torch.Tensor], torch.Tensor]:
        return input_norm_key_projection(self.layers[index])

    def project_query_key(self, attention, hidden_states, position_embeddings, query_index):
        # imported here, where the model (and so its modeling code) exists: importing headrouter stays light
        from transformers.models.qwen2.modeling_qwen2 import rotate_half

        return rotary_query_key(attention, hidden_states, position_embeddings, query_index, rotate_half)

    def build_inputs(
        self,
        processor,
        wavs: Sequence[np.ndarray],
        prompts: Sequence[str],
        *,
        system_prompt: str | None = None,
        truncate_audio: bool = False,
    ):
        """As the default, but Qwen2-Audio's encoder takes exactly one window of features (30 s for the released
        checkpoints): longer audio is refused unless ``truncate_audio``."""
        window = processor.feature_extractor.n_samples
        if not truncate_audio and any(w.size > window for w in wavs):
            raise ValueError(
                f"Qwen2-Audio's audio encoder takes at most {window} samples per clip "
                f"({window / self.sampling_rate(processor):g} s); pass truncate_audio=True to cut longer clips"
            )
        return super().build_inputs(processor, wavs, prompts, system_prompt=system_prompt, truncate_audio=True)

    @classmethod
    def load_model(cls, path: str | Path, dtype: str = "auto", attn_implementation: str | None = None) -> nn.Module:
        from transformers import Qwen2AudioForConditionalGeneration

        kwargs = {"dtype": dtype, "local_files_only": True}
        if attn_implementation is not None:
            kwargs["attn_implementation"] = attn_implementation
        return Qwen2AudioForConditionalGeneration.from_pretrained(str(path), **kwargs).eval()

    @classmethod
    def load_processor(cls, path: str | Path):
        from transformers import Qwen2AudioProcessor

        return Qwen2AudioProcessor.from_pretrained(str(path), local_files_only=True)

    # no built-in benchmark model (family stays unset): benchmark a checkpoint with --model
    title = "Qwen2-Audio"
