"""Gemma 3n (``Gemma3nForConditionalGeneration``): a USM-like conformer audio tower and a Gemma decoder with AltUp,
per-layer inputs, sliding-window layers and KV sharing.

The processor writes ``\\n\\n<start_of_audio>``, a fixed 188 ``<audio_soft_token>`` and ``<end_of_audio>\\n\\n`` per
clip (at most 30 s; the tower's 6.25 tokens per second, padded to 188), so the audio positions are where
``input_ids`` holds the placeholder. What differs for pruning, and how this adapter says it to the engine:

- AltUp: the decoder layers pass on a stack ``(altup_num_inputs, B, L, D)`` of streams; the tokens are gathered along
  axis 2 (:attr:`hidden_token_axis`), and methods read the stream the layer's attention is computed from (its active
  prediction, :meth:`layer_states`);
- per-layer inputs: each layer takes a per-token ``per_layer_input`` ``(B, L, P)``, gathered for the pruned layers;
- rotary embeddings of two thetas, one per attention kind, and sliding-window layers: handled by the engine per kind;
- q/k/v norms before rotary and attention scaling 1.0: :meth:`project_query_key` computes them as the attention does;
- KV sharing: the last ``num_kv_shared_layers`` layers reuse the keys and values of the last earlier layer of their
  kind (:meth:`kv_sharing_groups`); a prune layer that would split such a group is refused.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from headrouter.adapters.base import ModelAdapter
from headrouter.adapters.gemma3n import bench
from headrouter.adapters.gemma3n.vision import without_vision_tower

logger = logging.getLogger("headrouter")


class Gemma3nAdapter(ModelAdapter):
    model_classes = ("Gemma3nForConditionalGeneration",)
    hidden_token_axis = 2

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

    def kv_sharing_groups(self) -> list[list[int]]:
        """Per attention kind with KV sharing: the layer that stores the keys and values, then the layers reusing
        them (transformers' ``kv_sharing_modes``)."""
        config = self.text_config
        modes, kinds = config.kv_sharing_modes, config.layer_types
        groups = []
        for kind in dict.fromkeys(kinds):
            store = [i for i, mode in enumerate(modes) if mode == "store" and kinds[i] == kind]
            reuse = [i for i, mode in enumerate(modes) if mode == "reuse" and kinds[i] == kind]
            if reuse:
                groups.append(store + reuse)
        return groups

    def layer_states(self, index: int, hidden_states: torch.Tensor) -> torch.Tensor:
        """The layer's active AltUp prediction ``(B, L, D)``: what its attention normalises and projects."""
        prediction = self.layers[index].altup.predict(hidden_states)
        return prediction[self.text_config.altup_active_idx]

    def gather_layer_arguments(
        self, index: int, arguments: dict, gather: Callable[[torch.Tensor, int], torch.Tensor]
    ) -> dict:
        gathered = super().gather_layer_arguments(index, arguments, gather)
        if arguments.get("per_layer_input") is not None:
            gathered["per_layer_input"] = gather(arguments["per_layer_input"], 1)
        return gathered

    def project_query_key(self, attention, hidden_states, position_embeddings, query_index):
        if attention.is_kv_shared_layer:
            raise ValueError(
                f"layer {attention.layer_idx} of Gemma 3n reuses another layer's keys: its attention rows cannot be "
                "recomputed from its own input"
            )
        # imported here, where the model (and so its modeling code) exists: importing headrouter stays light
        from transformers.models.gemma3n.modeling_gemma3n import rotate_half

        batch, seq, _ = hidden_states.shape
        d = attention.head_dim
        rows = torch.arange(batch, device=hidden_states.device)[:, None]
        cos, sin = (t.expand(batch, -1, -1) for t in position_embeddings)
        query = attention.q_proj(hidden_states[rows, query_index]).view(batch, query_index.shape[1], -1, d)
        key = attention.k_proj(hidden_states).view(batch, seq, -1, d)

        def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
            return (x * cos[:, :, None] + rotate_half(x) * sin[:, :, None]).transpose(1, 2)

        query = rotate(attention.q_norm(query), cos[rows, query_index], sin[rows, query_index])
        return query, rotate(attention.k_norm(key), cos, sin)

    def key_projection(self, index: int) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """``k_norm(k_proj(input_layernorm(x)))`` per head, flattened; None for a layer that reuses another's keys.
        ``x`` is the layer's active AltUp prediction (:meth:`layer_states`)."""
        layer = self.layers[index]
        attention = layer.self_attn
        if attention.is_kv_shared_layer:
            return None

        def project(states: torch.Tensor) -> torch.Tensor:
            keys = attention.k_proj(layer.input_layernorm(states)).unflatten(-1, (-1, attention.head_dim))
            return attention.k_norm(keys).flatten(-2)

        return project

    def build_inputs(
        self,
        processor,
        wavs: Sequence[np.ndarray],
        prompts: Sequence[str],
        *,
        system_prompt: str | None = None,
        truncate_audio: bool = False,
    ):
        """As the default (a user turn of the audio then the prompt, after an optional system turn), through
        ``Gemma3nProcessor``'s own tokenizing chat template, which starts the text with ``<bos>`` once (the released
        tokenizer adds another to text it tokenizes itself). The processor writes 188 audio tokens for every clip:
        clips over the feature extractor's window (30 s), which it would cut, are refused unless ``truncate_audio``.

        The window and padding multiple go to the feature extractor explicitly (its own defaults): a processor saved
        after use keeps its tokenizer's padding state, which transformers 5.24 hands every modality on reload, the
        feature extractor included (as ``max_length=None``, which it then refuses to truncate with)."""
        defaults = inspect.signature(type(processor.feature_extractor).__call__).parameters
        audio_kwargs = {name: defaults[name].default for name in ("max_length", "pad_to_multiple_of")}
        window = audio_kwargs["max_length"]
        if not truncate_audio and any(w.size > window for w in wavs):
            raise ValueError(
                f"Gemma 3n hears at most {window / self.sampling_rate(processor):g} s ({window} samples) per clip; "
                "pass truncate_audio=True to cut longer clips"
            )
        system = (
            [] if system_prompt is None else [{"role": "system", "content": [{"type": "text", "text": system_prompt}]}]
        )
        conversations = [
            [*system, {"role": "user", "content": [{"type": "audio", "audio": wav}, {"type": "text", "text": prompt}]}]
            for wav, prompt in zip(wavs, prompts, strict=True)
        ]
        return processor.apply_chat_template(
            conversations,
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            processor_kwargs={
                "return_tensors": "pt",
                "padding": True,
                "padding_side": "left",
                "audio_kwargs": audio_kwargs,
            },
        )

    @classmethod
    def load_model(cls, path: str | Path, dtype: str = "auto", attn_implementation: str | None = None) -> nn.Module:
        """The checkpoint's ``Gemma3nForConditionalGeneration``, from local files only. Its vision tower is timm's:
        where timm is missing, the model is loaded with :class:`~headrouter.adapters.gemma3n.vision.VisionTowerStandIn`
        in its place (text and audio work; images are refused), and a WARNING says so."""
        from transformers import Gemma3nForConditionalGeneration

        kwargs = {"dtype": dtype, "local_files_only": True}
        if attn_implementation is not None:
            kwargs["attn_implementation"] = attn_implementation
        if importlib.util.find_spec("timm") is not None:
            return Gemma3nForConditionalGeneration.from_pretrained(str(path), **kwargs).eval()
        logger.warning(
            "timm is not installed: %s is loaded without its vision tower (text and audio only; images are refused). "
            "pip install timm to load it whole",
            path,
        )
        with without_vision_tower():
            return Gemma3nForConditionalGeneration.from_pretrained(str(path), **kwargs).eval()

    @classmethod
    def load_processor(cls, path: str | Path):
        from transformers import Gemma3nProcessor

        return Gemma3nProcessor.from_pretrained(str(path), local_files_only=True)

    # ------------------------------------------------------------------------------------------------ benchmarking

    family = "gemma3n"
    title = "Gemma 3n"
    published_shapes = bench.PUBLISHED_SHAPES

    @classmethod
    def random_model(
        cls, shape: str, num_layers: int, *, dtype: torch.dtype = torch.float32, attn_implementation: str = "sdpa"
    ) -> nn.Module:
        return bench.random_model(shape, num_layers, dtype=dtype, attn_implementation=attn_implementation)

    @classmethod
    def random_model_from_config(
        cls, path: str | Path, *, dtype: torch.dtype = torch.float32, attn_implementation: str = "sdpa"
    ) -> nn.Module:
        return bench.random_model_from_config(path, dtype=dtype, attn_implementation=attn_implementation)

    def placeholder_prompt(
        self, audio_tokens: int, *, text_before: int, text_after: int, seed: int = 0
    ) -> dict[str, torch.Tensor]:
        return bench.placeholder_prompt(
            self.model, audio_tokens, text_before=text_before, text_after=text_after, seed=seed
        )

    def special_token_ids(self) -> list[int]:
        return bench.special_token_ids(self.model)
