"""What the families' tiny test models share: the audio-token count of Whisper-like towers, the padded id layout of a
batch, a tiny Qwen2 decoder config and building a random-weight model from a config. Each family's ``tiny.py`` adds
its own prompt layout and audio windows."""

from __future__ import annotations

import torch
from torch import nn


def whisper_audio_tokens(frames: torch.Tensor) -> torch.Tensor:
    """Audio tokens a Whisper-like tower (a stride-2 convolution, then stride-2 pooling) outputs for ``frames`` mel
    frames: 100 frames per second -> 25 tokens per second, as Qwen2.5-Omni, Qwen2-Audio and Audio Flamingo 3 count."""
    return ((frames - 1) // 2 + 1 - 2) // 2 + 1


def padded_ids(rows: list[list[int]], pad_token: int, padding_side: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` ``(B, longest)`` of the token rows, padded on ``padding_side``."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_token, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    for b, ids in enumerate(rows):
        span = slice(width - len(ids), width) if padding_side == "left" else slice(0, len(ids))
        input_ids[b, span] = torch.tensor(ids, dtype=torch.long)
        attention_mask[b, span] = 1
    return input_ids, attention_mask


def qwen2_text_config(
    vocab_size: int, hidden_size: int, num_layers: int, num_heads: int, num_kv_heads: int, pad_token: int
) -> dict:
    """A tiny Qwen2 decoder config, initialised with a larger spread (0.1) than real models so that a random model's
    greedy output varies from token to token."""
    return dict(
        model_type="qwen2",
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=32768,
        pad_token_id=pad_token,
        initializer_range=0.1,
    )


def random_model(
    cls: type, config, attn_implementation: str, seed: int, pad_token: int, special: list[int]
) -> nn.Module:
    """A random-weight ``cls`` from ``config``, seeded, in eval mode, that never generates the ``special`` ids (random
    weights would sometimes write placeholders; a real model never does)."""
    torch.manual_seed(seed)
    model = cls._from_config(config, attn_implementation=attn_implementation)
    model.generation_config.pad_token_id = pad_token
    model.generation_config.suppress_tokens = list(special)
    return model.eval()
