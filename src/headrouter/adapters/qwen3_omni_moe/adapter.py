"""Qwen3-Omni (``Qwen3OmniMoe``): the full model (pruning goes into its thinker) and the thinker alone.

The thinker's decoder differs from Qwen2.5-Omni's in what pruning touches: per-head RMS norms on queries and keys
before rotary (``q_norm``/``k_norm``), which the query/key and key projections here apply as the attention does;
interleaved mRoPE, whose position ids (``rope_deltas`` included) are computed before the decoder, from the full
``input_ids``, so kept tokens keep theirs; mixture-of-experts MLPs, which route each token on its own and need
nothing; and deepstack: the text model adds visual features to the hidden states of the visual positions after its
first layers, by a mask over the full sequence, which pruned layers no longer have, so images and video are refused
while pruning."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from headrouter.adapters.omni_thinker import OmniThinkerAdapter
from headrouter.adapters.qwen3_omni_moe import bench
from headrouter.adapters.rotary import rotary_query_key

FULL_MODEL = "Qwen3OmniMoeForConditionalGeneration"
THINKER = "Qwen3OmniMoeThinkerForConditionalGeneration"
VISUAL_INPUTS = ("pixel_values", "pixel_values_videos")


class _NormedProjections:
    """An attention module seen through its q/k projections followed by their per-head RMS norms, each
    ``(..., D) -> (..., H * d)``: what :func:`~headrouter.adapters.rotary.rotary_query_key` projects with."""

    def __init__(self, attention: nn.Module) -> None:
        self.head_dim = attention.head_dim
        self._attention = attention

    def q_proj(self, states: torch.Tensor) -> torch.Tensor:
        return _normed(self._attention.q_proj, self._attention.q_norm, self.head_dim, states)

    def k_proj(self, states: torch.Tensor) -> torch.Tensor:
        return _normed(self._attention.k_proj, self._attention.k_norm, self.head_dim, states)


def _normed(projection: nn.Module, norm: nn.Module, head_dim: int, states: torch.Tensor) -> torch.Tensor:
    """``norm`` over each head of ``projection(states)``, as ``Qwen3OmniMoeThinkerTextAttention`` computes it."""
    return norm(projection(states).unflatten(-1, (-1, head_dim))).flatten(-2)


class Qwen3OmniMoeAdapter(OmniThinkerAdapter):
    model_classes = (FULL_MODEL, THINKER)

    def check_call(self, kwargs: dict) -> None:
        # deepstack adds visual features to the hidden states of the visual positions after the first layers (one per
        # level), through a mask over the full sequence: a pruned layer's shorter hidden states do not fit it
        encoded = kwargs.get("mm_encoder_outputs") or {}
        visual = [kwargs.get(name) for name in VISUAL_INPUTS] + [encoded.get("image"), encoded.get("video")]
        if any(inputs is not None for inputs in visual):
            raise ValueError(
                "headrouter cannot prune Qwen3-Omni calls with images or video: the thinker adds deepstack visual "
                "features to the visual positions of the full sequence after its first layers, which pruned layers "
                "no longer hold. Prune audio-only inputs, or unwrap the model (headrouter.unwrap) for visual input"
            )
        router_logits = kwargs.get("output_router_logits")
        if router_logits is None:
            router_logits = self.text_config.output_router_logits
        if router_logits:
            raise ValueError(
                "headrouter cannot prune with output_router_logits: the load-balancing loss weights every layer's "
                "router logits by the full-length attention_mask, and pruned layers route the kept tokens only. "
                "Pass output_router_logits=False, or unwrap the model first"
            )
        super().check_call(kwargs)  # speech output through the talker

    def project_query_key(self, attention, hidden_states, position_embeddings, query_index):
        # imported here, where the model (and so its modeling code) exists: importing headrouter stays light
        from transformers.models.qwen3_omni_moe.modeling_qwen3_omni_moe import rotate_half

        return rotary_query_key(
            _NormedProjections(attention), hidden_states, position_embeddings, query_index, rotate_half
        )

    def key_projection(self, index: int) -> Callable[[torch.Tensor], torch.Tensor]:
        layer = self.layers[index]
        keys = _NormedProjections(layer.self_attn)
        return lambda states: keys.k_proj(layer.input_layernorm(states))

    def build_inputs(self, processor, wavs, prompts, *, system_prompt=None, truncate_audio=False):
        """As the default, but ``Qwen3OmniMoeProcessor`` pads clips to the longest and never cuts them (its audio
        defaults), so it keeps whole clips by itself, and ``truncate_audio`` cuts each clip here to the feature
        extractor's window (30 s), as for the other families."""
        from headrouter.adapters import chat_inputs

        if truncate_audio:
            wavs = [w[: processor.feature_extractor.n_samples] for w in wavs]
        # truncate_audio=True: call the processor plainly (no max_length / truncation audio kwargs)
        return chat_inputs.build_inputs(processor, wavs, prompts, system_prompt=system_prompt, truncate_audio=True)

    @classmethod
    def load_model(cls, path: str | Path, dtype: str = "auto", attn_implementation: str | None = None) -> nn.Module:
        """The class the checkpoint's ``config.json`` names (the full model or its thinker), from local files only."""
        import transformers

        config_file = Path(path) / "config.json"
        if not config_file.is_file():
            raise FileNotFoundError(f"{config_file} not found: expected a local checkpoint directory")
        architectures = json.loads(config_file.read_text()).get("architectures") or []
        name = THINKER if THINKER in architectures else FULL_MODEL
        kwargs = {"dtype": dtype, "local_files_only": True}
        if attn_implementation is not None:
            kwargs["attn_implementation"] = attn_implementation
        return getattr(transformers, name).from_pretrained(str(path), **kwargs).eval()

    @classmethod
    def load_processor(cls, path: str | Path):
        """``Qwen3OmniMoeProcessor`` from a local checkpoint directory (a video stand-in without torchvision)."""
        from transformers import Qwen3OmniMoeProcessor

        from headrouter.adapters.qwen2_5_omni.loading import allow_processors_without_torchvision

        allow_processors_without_torchvision()
        return Qwen3OmniMoeProcessor.from_pretrained(str(path), local_files_only=True)

    # benchmarking: the code lives in .bench
    family = "qwen3_omni_moe"
    title = "Qwen3-Omni"
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
