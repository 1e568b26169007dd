"""What ``headrouter bench`` needs of Phi-4-multimodal: the published decoder widths, random-weight models built at
them (or from a config file), the placeholder prompt and the special ids a random model must never generate.

The built-in model has the tiny audio and vision towers of :mod:`.tiny` (the benchmark never runs them), a 256-token
vocabulary and the tiny special ids, so its prompts are those of the tiny models. Its long-RoPE factors are all 1.0:
they change the rotary angles, not the cost.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

PUBLISHED_SHAPES: dict[str, dict] = {
    "5.6B": {
        "hidden_size": 3072,
        "num_hidden_layers": 32,
        "num_attention_heads": 24,
        "num_key_value_heads": 8,
        "intermediate_size": 8192,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10_000.0,
        "partial_rotary_factor": 0.75,
        "max_position_embeddings": 131_072,
        "original_max_position_embeddings": 4096,
        "sliding_window": 262_144,
    },
}
"""The decoder of microsoft/Phi-4-multimodal-instruct (5.6B parameters with its towers and LoRAs; head dim 128, rotary
on 96 of its channels, long-RoPE with 48 short and 48 long factors; the sliding window exceeds the context)."""

BENCH_VOCAB_SIZE = 256
"""The built-in model's vocabulary: the tiny tokenizer's, so the LM head costs next to nothing."""


def decoder_config(shape: dict, num_layers: int, vocab_size: int = BENCH_VOCAB_SIZE):
    """A Phi-4-multimodal config with the decoder widths ``shape`` (one of :data:`PUBLISHED_SHAPES`), ``num_layers``
    layers, a small vocabulary and the tiny towers; special ids as in :mod:`.tiny`."""
    # the model code is imported where a model is built, so that ``headrouter --version`` does not load it
    from headrouter.adapters.phi4_multimodal import tiny

    config = tiny.tiny_config(
        num_layers=num_layers,
        hidden_size=shape["hidden_size"],
        num_heads=shape["num_attention_heads"],
        num_kv_heads=shape["num_key_value_heads"],
        vocab_size=vocab_size,
        sliding_window=shape["sliding_window"],
    )
    rotary_pairs = int(shape["hidden_size"] // shape["num_attention_heads"] * shape["partial_rotary_factor"]) // 2
    config.intermediate_size = shape["intermediate_size"]
    config.max_position_embeddings = shape["max_position_embeddings"]
    config.rms_norm_eps = shape["rms_norm_eps"]
    config.initializer_range = 0.02
    config.rope_parameters = {
        "rope_type": "longrope",
        "rope_theta": shape["rope_theta"],
        "partial_rotary_factor": shape["partial_rotary_factor"],
        "original_max_position_embeddings": shape["original_max_position_embeddings"],
        "short_factor": [1.0] * rotary_pairs,
        "long_factor": [1.0] * rotary_pairs,
    }
    return config


def random_model(shape: str, num_layers: int, *, dtype: torch.dtype, attn_implementation: str) -> nn.Module:
    """A random-weight ``Phi4MultimodalForCausalLM`` at the published widths ``shape`` with ``num_layers`` layers."""
    if shape not in PUBLISHED_SHAPES:
        raise ValueError(f"Phi-4-multimodal has no published shape {shape!r}; known: {', '.join(PUBLISHED_SHAPES)}")
    return _model(decoder_config(PUBLISHED_SHAPES[shape], num_layers), dtype, attn_implementation)


def random_model_from_config(path: str | Path, *, dtype: torch.dtype, attn_implementation: str) -> nn.Module:
    """A random-weight ``Phi4MultimodalForCausalLM`` from a Phi-4-multimodal config JSON."""
    from transformers import Phi4MultimodalConfig

    return _model(Phi4MultimodalConfig.from_json_file(str(path)), dtype, attn_implementation)


def _model(config, dtype: torch.dtype, attn_implementation: str) -> nn.Module:
    from transformers import Phi4MultimodalForCausalLM

    model = Phi4MultimodalForCausalLM._from_config(config, attn_implementation=attn_implementation, dtype=dtype)
    return model.eval()


def special_token_ids(model: nn.Module) -> list[int]:
    """The audio and image placeholder ids and the padding id of ``model``'s config."""
    config = model.config
    ids = (config.audio_config.audio_token_id, config.vision_config.image_token_id, config.pad_token_id)
    return sorted({int(i) for i in ids if i is not None})


def placeholder_prompt(
    model: nn.Module, audio_tokens: int, *, text_before: int, text_after: int, seed: int = 0
) -> dict[str, torch.Tensor]:
    """``text_before`` random text tokens, ``audio_tokens`` audio placeholders (Phi-4's processor writes no audio
    start or end token), ``text_after`` random text tokens; ``input_ids`` and ``attention_mask`` of a batch of one."""
    config = model.config
    special = set(special_token_ids(model))
    ordinary = torch.tensor([i for i in range(2, min(int(config.vocab_size), 1000)) if i not in special])
    generator = torch.Generator().manual_seed(seed)
    text = ordinary[torch.randint(len(ordinary), (text_before + text_after,), generator=generator)].tolist()
    ids = text[:text_before] + [int(config.audio_config.audio_token_id)] * audio_tokens + text[text_before:]
    input_ids = torch.tensor([ids])
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
