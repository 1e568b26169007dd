"""What ``headrouter bench`` needs of Qwen3-Omni: the published thinker decoder widths, random-weight thinkers built at
them (mixture-of-experts layers included) or from a config file, the placeholder prompt and the special ids a random
model must never generate.

The benchmark times the thinker's decoder: the built-in model has a tiny audio tower and vision tower (which the
benchmark never runs), a 256-token vocabulary and the special ids of :mod:`.tiny`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

PUBLISHED_SHAPES: dict[str, dict] = {
    "30B-A3B": {
        "hidden_size": 2048,
        "num_hidden_layers": 48,
        "num_attention_heads": 32,
        "num_key_value_heads": 4,
        "head_dim": 128,
        "intermediate_size": 768,
        "moe_intermediate_size": 768,
        "num_experts": 128,
        "num_experts_per_tok": 8,
        "rope_theta": 1_000_000.0,
        "mrope_section": [24, 20, 20],
    },
}
"""The thinker decoder of Qwen3-Omni-30B-A3B-Instruct's config: every layer a mixture of 128 experts, 8 per token;
``intermediate_size`` is the dense MLP width no layer uses."""

BENCH_VOCAB_SIZE = 256
"""The built-in model's vocabulary: the tiny tokenizer's, so the LM head costs next to nothing."""


def thinker_config(shape: dict, num_layers: int, vocab_size: int = BENCH_VOCAB_SIZE):
    """A thinker config with the decoder widths ``shape`` (one of :data:`PUBLISHED_SHAPES`), ``num_layers`` layers, a
    small vocabulary and tiny audio and vision towers; special ids as in :mod:`.tiny`."""
    # the model code is imported where a model is built, so that ``headrouter --version`` does not load it
    from transformers import Qwen3OmniMoeThinkerConfig

    from headrouter.adapters.qwen3_omni_moe import tiny

    hidden = shape["hidden_size"]
    config = Qwen3OmniMoeThinkerConfig(
        audio_config=dict(
            num_mel_bins=128, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=64, d_model=32,
            output_dim=hidden, downsample_hidden_size=8,
        ),
        vision_config=dict(
            depth=1, hidden_size=16, intermediate_size=16, num_heads=2, out_hidden_size=hidden,
            deepstack_visual_indexes=[0], num_position_embeddings=64,
        ),
        text_config=dict(
            vocab_size=vocab_size, hidden_size=hidden, intermediate_size=shape["intermediate_size"],
            moe_intermediate_size=shape["moe_intermediate_size"], num_experts=shape["num_experts"],
            num_experts_per_tok=shape["num_experts_per_tok"], num_hidden_layers=num_layers,
            num_attention_heads=shape["num_attention_heads"], num_key_value_heads=shape["num_key_value_heads"],
            head_dim=shape["head_dim"], max_position_embeddings=65536, pad_token_id=tiny.PAD_TOKEN, rms_norm_eps=1e-6,
            rope_parameters={
                "rope_type": "default", "rope_theta": shape["rope_theta"], "mrope_section": shape["mrope_section"],
                "interleaved": True,
            },
        ),
        audio_token_id=tiny.AUDIO_TOKEN, image_token_id=tiny.IMAGE_TOKEN, video_token_id=tiny.VIDEO_TOKEN,
        audio_start_token_id=tiny.AUDIO_START, position_id_per_seconds=13,
    )  # fmt: skip
    config.audio_end_token_id = tiny.AUDIO_END
    config.vision_start_token_id = tiny.VISION_START
    config.vision_end_token_id = tiny.VISION_END
    return config


def random_model(shape: str, num_layers: int, *, dtype: torch.dtype, attn_implementation: str) -> nn.Module:
    """A random-weight thinker at the published widths ``shape`` ("30B-A3B") with ``num_layers`` decoder layers."""
    if shape not in PUBLISHED_SHAPES:
        raise ValueError(f"Qwen3-Omni has no published shape {shape!r}; known: {', '.join(PUBLISHED_SHAPES)}")
    return _thinker(thinker_config(PUBLISHED_SHAPES[shape], num_layers), dtype, attn_implementation)


def random_model_from_config(path: str | Path, *, dtype: torch.dtype, attn_implementation: str) -> nn.Module:
    """A random-weight thinker from a thinker config JSON, or from a full Qwen3-Omni config (its thinker's)."""
    from transformers import Qwen3OmniMoeThinkerConfig

    data = json.loads(Path(path).read_text())
    return _thinker(Qwen3OmniMoeThinkerConfig.from_dict(data.get("thinker_config", data)), dtype, attn_implementation)


def _thinker(config, dtype: torch.dtype, attn_implementation: str) -> nn.Module:
    from transformers import Qwen3OmniMoeThinkerForConditionalGeneration

    model = Qwen3OmniMoeThinkerForConditionalGeneration._from_config(
        config, attn_implementation=attn_implementation, dtype=dtype
    )
    return model.eval()


_SPECIAL = (
    "audio_token_id", "image_token_id", "video_token_id", "audio_start_token_id", "audio_end_token_id",
    "vision_start_token_id", "vision_end_token_id",
)  # fmt: skip


def special_token_ids(thinker: nn.Module) -> list[int]:
    """The placeholder, media-boundary and padding ids of ``thinker``'s config (those it sets)."""
    config = thinker.config
    ids = [getattr(config, name, None) for name in _SPECIAL] + [config.get_text_config().pad_token_id]
    return sorted({int(i) for i in ids if i is not None})


def placeholder_prompt(
    thinker: nn.Module, audio_tokens: int, *, text_before: int, text_after: int, seed: int = 0
) -> dict[str, torch.Tensor]:
    """``text_before`` random text tokens, ``<|audio_start|>``, ``audio_tokens`` placeholders, ``<|audio_end|>``,
    ``text_after`` random text tokens; ``input_ids`` and ``attention_mask`` of a batch of one."""
    config = thinker.config
    for name in ("audio_start_token_id", "audio_end_token_id"):
        if getattr(config, name, None) is None:
            raise ValueError(f"this thinker's config has no {name}: the prompt's audio boundaries are unknown")
    special = set(special_token_ids(thinker))
    vocab = int(config.get_text_config().vocab_size)
    # from 3: the tiny vocabulary's <|im_start|> and <|im_end|> are 1 and 2 (the released ids 0-999 are text)
    ordinary = torch.tensor([i for i in range(3, min(vocab, 1000)) if i not in special])
    generator = torch.Generator().manual_seed(seed)
    text = ordinary[torch.randint(len(ordinary), (text_before + text_after,), generator=generator)].tolist()
    audio = [int(config.audio_start_token_id)] + [int(config.audio_token_id)] * audio_tokens
    ids = text[:text_before] + audio + [int(config.audio_end_token_id)] + text[text_before:]
    input_ids = torch.tensor([ids])
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
