"""What the engine needs to know about a model family, behind one small class.

A new family is one new module (or folder) here: subclass :class:`ModelAdapter`, name the model classes it handles,
say where the decoder layers, the audio placeholder id and the attention projections are, how to load a checkpoint
and its processor, and list it in :data:`headrouter.adapters.ADAPTERS`. Nothing outside ``adapters/`` names a model
class or reads a family's config fields: the engine, methods, calibration, evaluation and benchmarks ask the
adapter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from headrouter.adapters import chat_inputs


class ModelAdapter(ABC):
    """Locates the parts of a model that pruning touches."""

    model_classes: ClassVar[tuple[str, ...]] = ()
    """Class names (``type(model).__name__``) this adapter handles."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    @property
    @abstractmethod
    def entry(self) -> nn.Module:
        """The module whose forward receives ``input_ids``, ``attention_mask`` and the cache (``cache``, or
        ``past_key_values`` before transformers 5.24) once per step,
        before any encoder work (the engine reads audio positions there)."""

    @property
    @abstractmethod
    def layers(self) -> nn.ModuleList:
        """The text decoder layers, called with hidden states positionally and everything else as keywords."""

    @property
    @abstractmethod
    def text_config(self):
        """The decoder's config (sets the attention implementation and the mask shape)."""

    @property
    @abstractmethod
    def audio_token_id(self) -> int:
        """The placeholder id the processor writes once per audio token."""

    @abstractmethod
    def attention(self, layer: nn.Module) -> nn.Module:
        """The self-attention module of a decoder layer."""

    @abstractmethod
    def project_query_key(
        self,
        attention: nn.Module,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        query_index: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Post-rotary queries of the rows ``query_index`` ``(B, H, Q, d)`` and keys of every row ``(B, H_kv, L, d)``,
        computed exactly as ``attention`` computes them from its (normed) input ``hidden_states``."""

    @abstractmethod
    def key_projection(self, index: int) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """Layer ``index``'s keys before rotary, ``(..., D) -> (..., H_kv * d)``, from the layer's input hidden states
        exactly as the layer computes them (its input norm, key projection and any key norm); None if the family has
        no such keys (methods that need them, DART's key norms, then refuse at wrap time)."""

    def attention_scaling(self, attention: nn.Module) -> float:
        """The factor the attention module multiplies ``q @ k^T`` by before the softmax."""
        return float(attention.scaling)

    def audio_mask(self, input_ids: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` bool: which positions of ``input_ids`` the decoder sees as audio tokens. Families that expand
        placeholders inside the model override this."""
        return input_ids == self.audio_token_id

    def layer_type(self, index: int) -> str:
        """The attention kind of decoder layer ``index``: ``"full_attention"`` or ``"sliding_attention"`` (the
        names of transformers' ``config.layer_types``)."""
        types = getattr(self.text_config, "layer_types", None)
        return types[index] if types else "full_attention"

    def sliding_window(self, index: int) -> int | None:
        """How many positions back a query of sliding-window layer ``index`` sees (itself included): a key at position
        ``p_k`` is visible to a query at ``p_q`` iff ``0 <= p_q - p_k < window``. None for other layers, and for a
        sliding layer whose config names no window (which the engine refuses)."""
        if self.layer_type(index) != "sliding_attention":
            return None
        window = getattr(self.text_config, "sliding_window", None)
        return int(window) if window else None

    def kv_sharing_groups(self) -> list[list[int]]:
        """Groups of decoder layers that attend over the same keys and values: the first layer of each group computes
        them, the others reuse them (transformers' KV sharing). Pruning between two layers of a group would give the
        later ones keys of the other length, so the engine refuses a prune layer that splits one. None by default."""
        return []

    def recomputable_layers(self) -> list[int]:
        """The decoder layers whose attention rows :meth:`project_query_key` can recompute from their own input:
        every layer but those reusing another layer's keys (:meth:`kv_sharing_groups`). Calibration profiles these."""
        reusing = {i for group in self.kv_sharing_groups() for i in group[1:]}
        return [i for i in range(self.num_layers) if i not in reusing]

    hidden_token_axis: ClassVar[int] = 1
    """The token axis of the hidden states the decoder layers pass on (``(B, L, D)``: 1); the engine gathers the kept
    tokens along it at layer K."""

    def layer_states(self, index: int, hidden_states: torch.Tensor) -> torch.Tensor:
        """``(B, L, D)``: layer ``index``'s input as methods read it (``ScoringContext.hidden_states``) and
        :meth:`key_projection` takes it, from the hidden states the decoder passes that layer. The hidden states
        themselves by default; a family whose layers pass on a stack of streams gives the one its attention reads."""
        return hidden_states

    def gather_layer_arguments(
        self, index: int, arguments: dict, gather: Callable[[torch.Tensor, int], torch.Tensor]
    ) -> dict:
        """Decoder layer ``index``'s keyword arguments (all but the hidden states, positional ones by their names) for
        the kept tokens only: each per-token tensor replaced by ``gather(tensor, token_axis)``, the rest as they are.
        By default the rotary ``(cos, sin)`` of ``position_embeddings`` and ``position_ids``, along axis 1; a family
        whose layers take more per-token inputs adds them. ``gather`` gathers each distinct tensor once per forward."""
        gathered = dict(arguments)
        if arguments.get("position_embeddings") is not None:
            gathered["position_embeddings"] = tuple(gather(t, 1) for t in arguments["position_embeddings"])
        if arguments.get("position_ids") is not None:
            gathered["position_ids"] = gather(arguments["position_ids"], 1)
        return gathered

    @property
    @abstractmethod
    def forward_module(self) -> nn.Module:
        """The module to call for a plain forward pass (logits) of the audio language model."""

    def on_wrap(self) -> None:
        """Called when a model of this family is wrapped: log what the user should know (a WARNING for a part of the
        model pruning does not serve). Nothing by default."""
        return None

    def check_call(self, kwargs: dict) -> None:
        """Raise for a call of ``forward_module`` (its keyword arguments) that pruning would make wrong in this
        family; called before any model work, at a prefill that has audio to prune. Accepts everything by default."""
        return None

    def sampling_rate(self, processor) -> int:
        """The audio sampling rate ``processor`` expects."""
        return int(processor.feature_extractor.sampling_rate)

    def build_inputs(
        self,
        processor,
        wavs: Sequence[np.ndarray],
        prompts: Sequence[str],
        *,
        system_prompt: str | None = None,
        truncate_audio: bool = False,
    ):
        """Left-padded model inputs (a ``BatchFeature``) for a batch of (audio at :meth:`sampling_rate`, prompt), each
        through the family's chat template as a user turn of the audio then the prompt, after an optional system
        turn. Audio longer than the feature extractor's window is kept whole unless ``truncate_audio``. By default
        :func:`headrouter.adapters.chat_inputs.build_inputs`; families whose processor differs override it."""
        return chat_inputs.build_inputs(
            processor, wavs, prompts, system_prompt=system_prompt, truncate_audio=truncate_audio
        )

    @classmethod
    @abstractmethod
    def load_model(cls, path: str | Path, dtype: str = "auto", attn_implementation: str | None = None) -> nn.Module:
        """The model of a local checkpoint of this family (from local files only), in eval mode."""

    @classmethod
    @abstractmethod
    def load_processor(cls, path: str | Path):
        """The processor of a local checkpoint of this family (text, audio and chat template)."""

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def num_heads(self) -> int:
        return int(self.text_config.num_attention_heads)

    # ------------------------------------------------------------------------------------------------ benchmarking
    # What ``headrouter bench`` (and ``benchmarks/``) ask of a family: random-weight models at the widths of its
    # released checkpoints, a prompt of text around N audio placeholders (no audio features: the audio tower does not
    # run), and the ids such a model must never generate. Optional: a family without them can be pruned, evaluated and
    # benchmarked from a checkpoint, but has no built-in benchmark model.

    family: ClassVar[str] = ""
    """Short name of the family, as ``headrouter bench --family`` takes it (``"qwen2_5_omni"``)."""

    title: ClassVar[str] = ""
    """The family's name as its authors write it (``"Qwen2.5-Omni"``), for reports."""

    published_shapes: ClassVar[dict[str, dict]] = {}
    """The decoder widths of released checkpoints, by size (``"3B"``), the first being the benchmark's default: text
    config field names (``hidden_size``, ``num_hidden_layers``, ``num_attention_heads``, ``num_key_value_heads``,
    ``intermediate_size``, and what else the family needs to build one, such as its rotary settings)."""

    @classmethod
    def random_model(
        cls, shape: str, num_layers: int, *, dtype: torch.dtype = torch.float32, attn_implementation: str = "sdpa"
    ) -> nn.Module:
        """A random-weight model, in eval mode, whose decoder has the widths of ``published_shapes[shape]`` but
        ``num_layers`` layers, with a small vocabulary and tiny encoders (the benchmark does not run them)."""
        raise NotImplementedError(f"{cls.__name__} has no built-in benchmark model")

    @classmethod
    def random_model_from_config(
        cls, path: str | Path, *, dtype: torch.dtype = torch.float32, attn_implementation: str = "sdpa"
    ) -> nn.Module:
        """A random-weight model, in eval mode, built from the config JSON file ``path`` of this family."""
        raise NotImplementedError(f"{cls.__name__} cannot build a model from a config file")

    def placeholder_prompt(
        self, audio_tokens: int, *, text_before: int, text_after: int, seed: int = 0
    ) -> dict[str, torch.Tensor]:
        """``input_ids`` and ``attention_mask`` (batch of one) of ``text_before`` random text tokens, the family's
        audio start token, ``audio_tokens`` audio placeholders, its audio end token and ``text_after`` random text
        tokens (drawn with ``seed``, never a special id), laid out as the family's processor lays out one clip."""
        raise NotImplementedError(f"{type(self).__name__} has no benchmark prompt")

    def special_token_ids(self) -> list[int]:
        """Sorted ids a random-weight model must never generate (placeholders, media boundaries, padding)."""
        raise NotImplementedError(f"{type(self).__name__} does not list its special ids")

    # End to end (``headrouter bench --with-audio-tower``): the audio tower runs on ``input_features`` of a clip that
    # makes exactly N audio tokens. Optional as well: a family without it is benchmarked decoder-only.

    published_audio_towers: ClassVar[dict[str, dict]] = {}
    """The audio towers of released checkpoints, by size as in ``published_shapes``: the tower config's field names
    (widths and ``num_layers``, the published depth). Non-empty where the family can be benchmarked end to end."""

    @property
    def audio_tower(self) -> nn.Module | None:
        """The module that turns ``input_features`` into audio embeddings (None where the family does not say)."""
        return None

    @classmethod
    def random_model_with_audio_tower(
        cls,
        shape: str,
        num_layers: int,
        tower_layers: int,
        *,
        dtype: torch.dtype = torch.float32,
        attn_implementation: str = "sdpa",
    ) -> nn.Module:
        """As :meth:`random_model`, but with the audio tower at the widths of ``published_audio_towers[shape]`` and
        ``tower_layers`` layers."""
        raise NotImplementedError(f"{cls.__name__} has no end-to-end benchmark model")

    def feature_prompt(
        self, audio_tokens: int, *, text_before: int, text_after: int, seed: int = 0
    ) -> dict[str, torch.Tensor]:
        """:meth:`placeholder_prompt` plus random ``input_features`` (and their mask) of the length that makes
        exactly ``audio_tokens`` audio tokens, so that the audio tower runs as it does on a real clip."""
        raise NotImplementedError(f"{type(self).__name__} has no end-to-end benchmark prompt")
