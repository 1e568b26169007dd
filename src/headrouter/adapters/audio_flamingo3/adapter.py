"""Audio Flamingo 3 (``AudioFlamingo3ForConditionalGeneration``): a Whisper-like audio tower run on 30 s windows, a
projector and a Qwen2 decoder with 1-D RoPE. ``AudioFlamingo3Processor`` cuts each clip into windows and writes one
``<sound>`` placeholder per audio token of the whole clip (25 per second), so the audio positions are where
``input_ids`` holds the placeholder; the model scatters the audio embeddings there and expands nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from headrouter.adapters import chat_inputs
from headrouter.adapters.base import ModelAdapter
from headrouter.adapters.rotary import input_norm_key_projection, rotary_query_key


class AudioFlamingo3Adapter(ModelAdapter):
    model_classes = ("AudioFlamingo3ForConditionalGeneration",)

    @property
    def entry(self) -> nn.Module:
        # AudioFlamingo3Model: gets input_ids, attention_mask and the cache before its audio tower runs
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

    def build_inputs(
        self,
        processor,
        wavs: Sequence[np.ndarray],
        prompts: Sequence[str],
        *,
        system_prompt: str | None = None,
        truncate_audio: bool = False,
    ):
        """As the default, but through the processor's own windowing: ``AudioFlamingo3Processor`` cuts each clip into
        windows of the feature extractor's chunk length (30 s) and hears up to its ``max_audio_len`` (600 s by
        default), cutting longer audio with only a log warning. Longer audio is refused here unless
        ``truncate_audio``, which hears each clip only up to one window, as for the other families."""
        window = processor.feature_extractor.n_samples
        if truncate_audio:
            wavs = [w[:window] for w in wavs]
        else:
            limit = int(processor.max_audio_len * self.sampling_rate(processor))
            if any(w.size > limit for w in wavs):
                raise ValueError(
                    f"Audio Flamingo 3's processor hears at most {processor.max_audio_len:g} s per clip "
                    f"({limit} samples) and would cut longer audio; pass truncate_audio=True to hear only the first "
                    f"{window / self.sampling_rate(processor):g} s"
                )
        # the processor windows the audio itself: call it plainly (no max_length / truncation audio kwargs)
        return chat_inputs.build_inputs(processor, wavs, prompts, system_prompt=system_prompt, truncate_audio=True)

    @classmethod
    def load_model(cls, path: str | Path, dtype: str = "auto", attn_implementation: str | None = None) -> nn.Module:
        from transformers import AudioFlamingo3ForConditionalGeneration

        kwargs = {"dtype": dtype, "local_files_only": True}
        if attn_implementation is not None:
            kwargs["attn_implementation"] = attn_implementation
        return AudioFlamingo3ForConditionalGeneration.from_pretrained(str(path), **kwargs).eval()

    @classmethod
    def load_processor(cls, path: str | Path):
        from transformers import AudioFlamingo3Processor

        return AudioFlamingo3Processor.from_pretrained(str(path), local_files_only=True)

    # no built-in benchmark model (family stays unset): benchmark a checkpoint with --model
    title = "Audio Flamingo 3"
