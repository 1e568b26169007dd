"""What ``headrouter bench`` needs of Gemma 3n: the published decoder widths, random-weight models built at them (or
from a config file), the placeholder prompt and the special ids a random model must never generate.

The built-in model has the decoder of a released checkpoint (AltUp, per-layer inputs, its sliding-window pattern and
window, sparse activations in the first ten layers, its share of KV-sharing layers) with fewer layers, a tiny audio
tower (the benchmark never runs it), no vision tower (:mod:`.vision`) and the vocabulary and special ids of
:mod:`.tiny`, so that its prompts are those of the tiny models.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

PUBLISHED_SHAPES: dict[str, dict] = {
    "E2B": {
        "hidden_size": 2048,
        "num_hidden_layers": 30,
        "num_attention_heads": 8,
        "num_key_value_heads": 2,
        "head_dim": 256,
        "intermediate_size": 8192,
        "sliding_window": 512,
        "num_kv_shared_layers": 10,
        "hidden_size_per_layer_input": 256,
        "laurel_rank": 64,
        "altup_num_inputs": 4,
    },
    "E4B": {
        "hidden_size": 2048,
        "num_hidden_layers": 35,
        "num_attention_heads": 8,
        "num_key_value_heads": 2,
        "head_dim": 256,
        "intermediate_size": 16384,
        "sliding_window": 512,
        "num_kv_shared_layers": 15,
        "hidden_size_per_layer_input": 256,
        "laurel_rank": 64,
        "altup_num_inputs": 4,
    },
}
"""The text decoders of the released Gemma 3n checkpoints (google/gemma-3n-E2B, -E4B and their -it versions): every
fifth layer full attention, the others a 512-token sliding window, rotary thetas 1e6 (full) and 1e4 (sliding)."""

SPARSE_LAYERS = 10
"""The released decoders' first ten layers keep the top 5% of their MLP activations (sparsity 0.95)."""


def layer_types(num_layers: int) -> list[str]:
    """The released pattern: every fifth layer full attention, the others sliding-window."""
    return ["full_attention" if (i + 1) % 5 == 0 else "sliding_attention" for i in range(num_layers)]


def shared_layers(shape: dict, num_layers: int) -> int:
    """KV-sharing layers of a ``num_layers``-layer model of ``shape``: the published share, fewer where the layers
    before them would miss an attention kind that the shared ones use (transformers refuses such a config)."""
    kinds = layer_types(num_layers)
    shared = shape["num_kv_shared_layers"] * num_layers // shape["num_hidden_layers"]
    while shared and set(kinds[: num_layers - shared]) != set(kinds):
        shared -= 1
    return shared


def decoder_config(shape: str, num_layers: int):
    """A ``Gemma3nConfig`` with the decoder widths of ``PUBLISHED_SHAPES[shape]`` and ``num_layers`` layers, the tiny
    audio tower, vision settings, vocabulary and special ids of :mod:`headrouter.adapters.gemma3n.tiny`."""
    # the model code is imported where a model is built, so that ``headrouter --version`` does not load it
    from headrouter.adapters.gemma3n import tiny

    if shape not in PUBLISHED_SHAPES:
        raise ValueError(f"Gemma 3n has no published shape {shape!r}; known: {', '.join(PUBLISHED_SHAPES)}")
    widths = PUBLISHED_SHAPES[shape]
    config = tiny.tiny_config(num_layers=num_layers)
    text = config.text_config
    for name, value in widths.items():
        setattr(text, name, value)
    text.num_hidden_layers = num_layers
    text.intermediate_size = [widths["intermediate_size"]] * num_layers
    text.layer_types = layer_types(num_layers)
    text.num_kv_shared_layers = shared_layers(widths, num_layers)
    text.activation_sparsity_pattern = [0.95 if i < SPARSE_LAYERS else 0.0 for i in range(num_layers)]
    text.initializer_range = 0.02
    return config


def random_model(shape: str, num_layers: int, *, dtype: torch.dtype, attn_implementation: str) -> nn.Module:
    """A random-weight ``Gemma3nForConditionalGeneration`` at the published widths ``shape`` ("E2B", "E4B") with
    ``num_layers`` decoder layers."""
    return _model(decoder_config(shape, num_layers), dtype, attn_implementation)


def random_model_from_config(path: str | Path, *, dtype: torch.dtype, attn_implementation: str) -> nn.Module:
    """A random-weight model from a Gemma 3n ``config.json`` (its vision tower stood in)."""
    from transformers import Gemma3nConfig

    return _model(Gemma3nConfig.from_dict(json.loads(Path(path).read_text())), dtype, attn_implementation)


def _model(config, dtype: torch.dtype, attn_implementation: str) -> nn.Module:
    from transformers import Gemma3nForConditionalGeneration

    from headrouter.adapters.gemma3n.vision import without_vision_tower

    with without_vision_tower():
        model = Gemma3nForConditionalGeneration._from_config(
            config, attn_implementation=attn_implementation, dtype=dtype
        )
    return model.eval()


def special_token_ids(model: nn.Module) -> list[int]:
    """Padding, ``<bos>``, the image and audio start tokens, and every id of the image and audio blocks (their end
    tokens, placeholders and embedded media tokens) of ``model``'s config."""
    config = model.config
    text = config.get_text_config()
    ids = {text.pad_token_id, text.bos_token_id, config.boi_token_id, config.boa_token_id}
    ids |= set(range(int(config.vision_config.vocab_offset), int(text.vocab_size)))
    return sorted(int(i) for i in ids if i is not None)


def placeholder_prompt(
    model: nn.Module, audio_tokens: int, *, text_before: int, text_after: int, seed: int = 0
) -> dict[str, torch.Tensor]:
    """``text_before`` random text tokens, ``<start_of_audio>``, ``audio_tokens`` placeholders, ``<end_of_audio>``,
    ``text_after`` random text tokens; ``input_ids`` and ``attention_mask`` of a batch of one."""
    config = model.config
    special = set(special_token_ids(model))
    vocab = int(config.get_text_config().vocab_size)
    ordinary = torch.tensor([i for i in range(3, min(vocab, 1000)) if i not in special])
    generator = torch.Generator().manual_seed(seed)
    text = ordinary[torch.randint(len(ordinary), (text_before + text_after,), generator=generator)].tolist()
    audio = [int(config.boa_token_id)] + [int(config.audio_token_id)] * audio_tokens + [int(config.eoa_token_id)]
    input_ids = torch.tensor([text[:text_before] + audio + text[text_before:]])
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
