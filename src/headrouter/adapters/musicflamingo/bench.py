"""What ``headrouter bench`` needs of MusicFlamingo: the published decoder widths, random-weight models built at them
(or from a config file), the placeholder prompt and the special ids a random model must never generate.

The built-in model has the tiny audio tower of :mod:`.tiny` (the benchmark never runs it), a 256-token vocabulary and
the tiny special ids, so its prompts are those of the tiny models.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

PUBLISHED_SHAPES: dict[str, dict] = {
    "8B": {
        "hidden_size": 3584,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "intermediate_size": 18944,
        "rope_theta": 1_000_000.0,
        "rms_norm_eps": 1e-6,
    },
}
"""The Qwen2 decoder of nvidia/music-flamingo-2601-hf (8.3B parameters with its tower; head dim 128), as transformers'
conversion script builds it."""

BENCH_VOCAB_SIZE = 256
"""The built-in model's vocabulary: the tiny tokenizer's, so the LM head costs next to nothing."""


def model_config(shape: dict, num_layers: int, vocab_size: int = BENCH_VOCAB_SIZE):
    """A MusicFlamingo config with the decoder widths ``shape`` (one of :data:`PUBLISHED_SHAPES`), ``num_layers``
    layers, a small vocabulary and the tiny tower; special ids as in :mod:`.tiny`."""
    # the model code is imported where a model is built, so that ``headrouter --version`` does not load it
    from headrouter.adapters.musicflamingo import tiny

    config = tiny.tiny_config(
        num_layers=num_layers,
        hidden_size=shape["hidden_size"],
        num_heads=shape["num_attention_heads"],
        num_kv_heads=shape["num_key_value_heads"],
        vocab_size=vocab_size,
    )
    text = config.text_config
    text.intermediate_size = shape["intermediate_size"]
    text.rms_norm_eps = shape["rms_norm_eps"]
    text.rope_parameters = {"rope_type": "default", "rope_theta": shape["rope_theta"]}
    text.initializer_range = 0.02
    return config


def random_model(shape: str, num_layers: int, *, dtype: torch.dtype, attn_implementation: str) -> nn.Module:
    """A random-weight ``MusicFlamingoForConditionalGeneration`` at the published widths ``shape`` with ``num_layers``
    decoder layers."""
    if shape not in PUBLISHED_SHAPES:
        raise ValueError(f"MusicFlamingo has no published shape {shape!r}; known: {', '.join(PUBLISHED_SHAPES)}")
    return _model(model_config(PUBLISHED_SHAPES[shape], num_layers), dtype, attn_implementation)


def random_model_from_config(path: str | Path, *, dtype: torch.dtype, attn_implementation: str) -> nn.Module:
    """A random-weight ``MusicFlamingoForConditionalGeneration`` from a MusicFlamingo config JSON."""
    from transformers import MusicFlamingoConfig

    return _model(MusicFlamingoConfig.from_json_file(str(path)), dtype, attn_implementation)


def _model(config, dtype: torch.dtype, attn_implementation: str) -> nn.Module:
    from transformers import MusicFlamingoForConditionalGeneration

    model = MusicFlamingoForConditionalGeneration._from_config(
        config, attn_implementation=attn_implementation, dtype=dtype
    )
    return model.eval()


def special_token_ids(model: nn.Module) -> list[int]:
    """The placeholder, audio boundary and padding ids of ``model``'s config."""
    config = model.config
    ids = (config.audio_token_id, config.audio_bos_token_id, config.audio_eos_token_id, config.text_config.pad_token_id)
    return sorted({int(i) for i in ids if i is not None})


def placeholder_prompt(
    model: nn.Module, audio_tokens: int, *, text_before: int, text_after: int, seed: int = 0
) -> dict[str, torch.Tensor]:
    """``text_before`` random text tokens, ``<|sound_bos|>``, ``audio_tokens`` placeholders, ``<|sound_eos|>``,
    ``text_after`` random text tokens; ``input_ids`` and ``attention_mask`` of a batch of one."""
    config = model.config
    special = set(special_token_ids(model))
    vocab = int(config.text_config.vocab_size)
    ordinary = torch.tensor([i for i in range(2, min(vocab, 1000)) if i not in special])
    generator = torch.Generator().manual_seed(seed)
    text = ordinary[torch.randint(len(ordinary), (text_before + text_after,), generator=generator)].tolist()
    audio = [int(config.audio_bos_token_id)] + [int(config.audio_token_id)] * audio_tokens
    ids = text[:text_before] + audio + [int(config.audio_eos_token_id)] + text[text_before:]
    input_ids = torch.tensor([ids])
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
