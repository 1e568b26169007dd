"""Voxtral (``VoxtralForConditionalGeneration``: Voxtral-Mini-3B-2507, Voxtral-Small-24B-2507): Whisper's encoder run
on 30 s chunks, a projector that merges 4 encoder frames into one audio token (12.5 per second, 375 per chunk), and a
Llama decoder with 1-D RoPE. mistral-common's tokenizer writes ``[BEGIN_AUDIO]`` and one ``[AUDIO]`` placeholder per
audio token, so the audio positions are where ``input_ids`` holds the placeholder; the model scatters the audio
embeddings there and expands nothing.

The model is laid out as Qwen2-Audio's (``model.model`` gets ``input_ids``, the padding mask and the cache before its
audio tower runs; the decoder is ``model.model.language_model``), so the adapter reuses
:class:`~headrouter.adapters.qwen2_decoder.Qwen2DecoderAdapter`: nothing there depends on Qwen2's q/k/v bias. Llama's
attention computes queries and keys as that adapter does (``q_proj``/``k_proj`` on the input-normed states, then
``x * cos + rotate_half(x) * sin``, ``scaling = head_dim ** -0.5``); only ``rotate_half`` is taken from Llama's
modeling code here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from headrouter.adapters.qwen2_decoder import Qwen2DecoderAdapter
from headrouter.adapters.rotary import rotary_query_key
from headrouter.adapters.voxtral import bench, inputs


class VoxtralAdapter(Qwen2DecoderAdapter):
    model_classes = ("VoxtralForConditionalGeneration",)
    processor_class = "VoxtralProcessor"

    def project_query_key(self, attention, hidden_states, position_embeddings, query_index):
        # imported here, where the model (and so its modeling code) exists: importing headrouter stays light
        from transformers.models.llama.modeling_llama import rotate_half

        return rotary_query_key(attention, hidden_states, position_embeddings, query_index, rotate_half)

    @classmethod
    def load_processor(cls, path: str | Path):
        """``VoxtralProcessor`` of a local checkpoint, with mistral-common's tokenizer from its ``tekken.json``
        (asked for explicitly: without it transformers would fall back to a tokenizer that writes no audio
        placeholders); ``ImportError`` naming the package without mistral-common."""
        from transformers import VoxtralProcessor
        from transformers.utils import is_mistral_common_available

        if not is_mistral_common_available():
            raise ImportError(
                "Voxtral's processor tokenizes with the mistral-common package (MistralCommonBackend, which writes "
                "the audio placeholders), which is not installed: pip install 'mistral-common[audio]>=1.11.5'"
            )
        return VoxtralProcessor.from_pretrained(str(path), local_files_only=True, mistral_format=True)

    def build_inputs(
        self,
        processor,
        wavs: Sequence[np.ndarray],
        prompts: Sequence[str],
        *,
        system_prompt: str | None = None,
        truncate_audio: bool = False,
    ):
        """Through ``VoxtralProcessor.apply_chat_template`` (its ``__call__`` takes no audio): see
        :func:`headrouter.adapters.voxtral.inputs.build_inputs`. Clips of any length are heard whole, in 30 s chunks,
        unless ``truncate_audio``, which hears each clip's first chunk."""
        return inputs.build_inputs(
            processor,
            wavs,
            prompts,
            sampling_rate=self.sampling_rate(processor),
            chunk_frames=2 * int(self.model.config.audio_config.max_source_positions),
            system_prompt=system_prompt,
            truncate_audio=truncate_audio,
        )

    # benchmarking: the code lives in .bench
    family = "voxtral"
    title = "Voxtral"
    published_shapes = bench.PUBLISHED_SHAPES

    @classmethod
    def random_model(cls, shape, num_layers, *, dtype=torch.float32, attn_implementation="sdpa") -> nn.Module:
        return bench.random_model(shape, num_layers, dtype=dtype, attn_implementation=attn_implementation)

    def placeholder_prompt(self, audio_tokens, *, text_before, text_after, seed=0):
        return bench.placeholder_prompt(
            self.model, audio_tokens, text_before=text_before, text_after=text_after, seed=seed
        )

    def special_token_ids(self) -> list[int]:
        return bench.special_token_ids(self.model)
