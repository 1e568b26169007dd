"""Phi-4-multimodal (``Phi4MultimodalForCausalLM``): a conformer audio tower (8x time reduction: 12.5 audio tokens per
second), a SigLIP-like vision tower and a Phi decoder. ``Phi4MultimodalProcessor`` writes the audio placeholder
(``<|endoftext11|>``) once per audio token; the model writes the audio embeddings into those positions
(``index_put``) and expands nothing, so the audio positions are where ``input_ids`` holds the placeholder.

What differs from the Qwen2 decoders: one fused ``qkv_proj`` (queries, then keys, then values), partial rotary (the
first ``partial_rotary_factor`` of each head's channels, 0.75 in the released checkpoint) with long-RoPE factors, a
``sliding_window`` in the config, and a speech LoRA that wraps ``qkv_proj`` once loaded (PEFT). Queries and keys are
computed by calling ``qkv_proj`` as the layer does, so a LoRA wrapper's delta is in them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from headrouter.adapters.base import ModelAdapter
from headrouter.adapters.phi4_multimodal import bench, loading
from headrouter.adapters.rotary import partial_rotary

TRUNCATE_SECONDS = 30.0
"""What ``truncate_audio`` keeps of a clip: Phi-4's feature extractor has no window of its own (its tower takes any
length), so the Whisper window the other families cut at."""


class Phi4MultimodalAdapter(ModelAdapter):
    model_classes = ("Phi4MultimodalForCausalLM",)

    @property
    def entry(self) -> nn.Module:
        return self.model.model

    @property
    def forward_module(self) -> nn.Module:
        return self.model

    @property
    def layers(self) -> nn.ModuleList:
        return self.model.model.layers

    @property
    def text_config(self):
        return self.model.config

    @property
    def audio_token_id(self) -> int:
        return int(self.model.config.audio_config.audio_token_id)

    def attention(self, layer: nn.Module) -> nn.Module:
        return layer.self_attn

    def layer_type(self, index: int) -> str:
        """Every layer attends within the config's ``sliding_window``, if it names one, else to the whole context. A
        window no shorter than ``max_position_embeddings`` never slides (the released checkpoint's: 262144 over
        131072 positions), so those layers are full attention; a shorter window makes every layer sliding."""
        config = self.text_config
        window = getattr(config, "sliding_window", None)
        if window is not None and window < config.max_position_embeddings:
            return "sliding_attention"
        return "full_attention"

    def _split(self, attention: nn.Module) -> tuple[int, int]:
        """Widths of the queries and of the keys in ``qkv_proj``'s output (queries, then keys, then values)."""
        return (
            attention.config.num_attention_heads * attention.head_dim,
            attention.num_key_value_heads * attention.head_dim,
        )

    def project_query_key(self, attention, hidden_states, position_embeddings, query_index):
        # imported here, where the model (and so its modeling code) exists: importing headrouter stays light
        from transformers.models.phi4_multimodal.modeling_phi4_multimodal import rotate_half

        batch, seq, _ = hidden_states.shape
        d = attention.head_dim
        queries, keys = self._split(attention)
        # the module itself, on every row as the layer calls it: a LoRA wrapper (the speech adapter) adds its delta
        qkv = attention.qkv_proj(hidden_states)
        rows = torch.arange(batch, device=hidden_states.device)[:, None]
        query = qkv[rows, query_index, :queries].view(batch, query_index.shape[1], -1, d).transpose(1, 2)
        key = qkv[..., queries : queries + keys].view(batch, seq, -1, d).transpose(1, 2)
        cos, sin = (t.expand(batch, -1, -1) for t in position_embeddings)
        query = partial_rotary(query, cos[rows, query_index][:, None], sin[rows, query_index][:, None], rotate_half)
        return query, partial_rotary(key, cos[:, None], sin[:, None], rotate_half)

    def key_projection(self, index: int) -> Callable[[torch.Tensor], torch.Tensor]:
        layer = self.layers[index]
        queries, keys = self._split(layer.self_attn)
        return lambda states: layer.self_attn.qkv_proj(layer.input_layernorm(states))[..., queries : queries + keys]

    def sampling_rate(self, processor) -> int:
        return int(processor.audio_processor.sampling_rate)

    def build_inputs(
        self,
        processor,
        wavs: Sequence[np.ndarray],
        prompts: Sequence[str],
        *,
        system_prompt: str | None = None,
        truncate_audio: bool = False,
    ):
        """Left-padded inputs through the processor's chat template (an optional system turn, then a user turn of the
        audio and the prompt). Phi-4's feature extractor and tower take audio of any length, so clips are heard whole
        unless ``truncate_audio``, which keeps the first :data:`TRUNCATE_SECONDS` as for the other families."""
        rate = self.sampling_rate(processor)
        if truncate_audio:
            wavs = [w[: int(TRUNCATE_SECONDS * rate)] for w in wavs]
        texts = []
        for wav, prompt in zip(wavs, prompts, strict=True):
            conversation = [] if system_prompt is None else [{"role": "system", "content": system_prompt}]
            conversation.append(
                {"role": "user", "content": [{"type": "audio", "audio": wav}, {"type": "text", "text": prompt}]}
            )
            texts.append(processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False))
        return processor(
            text=texts,
            audio=list(wavs),
            return_tensors="pt",
            padding=True,
            text_kwargs={"padding_side": "left"},
            audio_kwargs={"sampling_rate": rate},
        )

    @classmethod
    def load_model(cls, path: str | Path, dtype: str = "auto", attn_implementation: str | None = None) -> nn.Module:
        return loading.load_model(path, dtype=dtype, attn_implementation=attn_implementation)

    @classmethod
    def load_processor(cls, path: str | Path):
        return loading.load_processor(path)

    # benchmarking: the code lives in .bench
    family = "phi4_multimodal"
    title = "Phi-4-multimodal"
    published_shapes = bench.PUBLISHED_SHAPES

    @classmethod
    def random_model(cls, shape, num_layers, *, dtype=torch.float32, attn_implementation="sdpa") -> nn.Module:
        return bench.random_model(shape, num_layers, dtype=dtype, attn_implementation=attn_implementation)

    @classmethod
    def random_model_from_config(cls, path, *, dtype=torch.float32, attn_implementation="sdpa") -> nn.Module:
        return bench.random_model_from_config(path, dtype=dtype, attn_implementation=attn_implementation)

    def placeholder_prompt(self, audio_tokens, *, text_before, text_after, seed=0):
        return bench.placeholder_prompt(
            self.model, audio_tokens, text_before=text_before, text_after=text_after, seed=seed
        )

    def special_token_ids(self) -> list[int]:
        return bench.special_token_ids(self.model)
