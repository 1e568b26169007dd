"""What the families' tiny test models share: the audio-token count of Whisper-like towers, the padded id layout of a
batch, a tiny Qwen2 decoder config, building a random-weight model from a config, and a byte-level tokenizer over a
tiny vocabulary for the families' real processors. Each family's ``tiny.py`` adds its own prompt layout and audio
windows."""

from __future__ import annotations

import torch
from torch import nn
from transformers import Qwen2Tokenizer
from transformers.convert_slow_tokenizer import bytes_to_unicode


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


TINY_FIRST_BYTE, TINY_BYTE_COUNT = 3, 0xF6
"""In :func:`byte_level_tokenizer`'s vocabulary, byte ``b`` has id ``TINY_FIRST_BYTE + b``, for bytes 0x00-0xF5 (every
byte UTF-8 text can hold): ids 3 to 248, beside the special ids a family's tiny model places at 0-2 and 249-255."""


def byte_level_tokenizer(
    special: dict[int, str], *, eos_token: str, pad_token: str, chat_template: str
) -> Qwen2Tokenizer:
    """A ``Qwen2Tokenizer`` over a tiny vocabulary: the ``special`` tokens (id -> text) at the tiny model's ids, each
    kept whole in text, then one token per byte (no merges), as :data:`TINY_FIRST_BYTE` places them. Pads on the left.

    Built offline from ``vocab=``/``merges=`` rather than a ``tokenizer_object``: ``Qwen2Tokenizer`` rebuilds its
    normalizer, pre-tokenizer and decoder from those two on every load, so this is what ``from_pretrained`` gives back.
    """
    byte_ids = range(TINY_FIRST_BYTE, TINY_FIRST_BYTE + TINY_BYTE_COUNT)
    clash = sorted(set(special) & set(byte_ids))
    if clash:
        raise ValueError(f"special ids {clash} fall among the byte ids {byte_ids.start}-{byte_ids.stop - 1}")
    for name, text in (("eos_token", eos_token), ("pad_token", pad_token)):
        if text not in special.values():
            raise ValueError(f"{name} {text!r} is not one of the special tokens")
    byte_symbols = bytes_to_unicode()  # the printable character byte-level BPE writes for each byte
    vocab = {text: i for i, text in special.items()}
    vocab |= {byte_symbols[b]: TINY_FIRST_BYTE + b for b in range(TINY_BYTE_COUNT)}
    return Qwen2Tokenizer(
        vocab=vocab,
        merges=[],
        unk_token=None,
        eos_token=eos_token,
        pad_token=pad_token,
        extra_special_tokens=[t for t in special.values() if t not in (eos_token, pad_token)],
        padding_side="left",
        chat_template=chat_template,
    )
