"""What ``headrouter bench`` needs of Qwen2.5-Omni: the published decoder widths, random-weight thinkers built at them
(or from a config file), the placeholder prompt and the special ids a random model must never generate.

The benchmark times the thinker's decoder: the built-in model has a tiny audio tower and vision tower (which the
benchmark never runs), a 256-token vocabulary and the special ids of :mod:`.tiny`, so that its prompts are those of
the tiny models. The configs and prompts here are what the committed benchmark results were measured with.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

PUBLISHED_SHAPES: dict[str, dict] = {
    "3B": {
        "hidden_size": 2048,
        "num_hidden_layers": 36,
        "num_attention_heads": 16,
        "num_key_value_heads": 2,
        "intermediate_size": 11008,
        "rope_theta": 1_000_000.0,
        "mrope_section": [16, 24, 24],
    },
    "7B": {
        "hidden_size": 3584,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "intermediate_size": 18944,
        "rope_theta": 1_000_000.0,
        "mrope_section": [16, 24, 24],
    },
}
"""The thinker decoders of the released Qwen2.5-Omni checkpoints (head dim 128 in both)."""

PUBLISHED_AUDIO_TOWERS: dict[str, dict] = {
    size: {"d_model": 1280, "num_layers": 32, "encoder_attention_heads": 20, "encoder_ffn_dim": 5120}
    for size in PUBLISHED_SHAPES
}
"""The audio tower of both released checkpoints (Whisper-large-v3's encoder: 32 layers of width 1280, 20 heads, MLP
5120, 128 mel bins, windows of 100 frames; the defaults of transformers' ``Qwen2_5OmniAudioEncoderConfig``)."""

FRAMES_PER_TOKEN = 4
"""Mel frames per audio token: two stride-2 steps (the tower's second convolution and its pooling); ``4 n`` frames
make exactly ``n`` tokens by the tower's ``_get_feat_extract_output_lengths``."""

BENCH_VOCAB_SIZE = 256
"""The built-in model's vocabulary: the tiny tokenizer's, so the LM head costs next to nothing."""


TINY_AUDIO_TOWER = {"d_model": 32, "num_layers": 1, "encoder_attention_heads": 2, "encoder_ffn_dim": 64}
"""The audio tower of the decoder-only benchmark model (never run there)."""


def thinker_config(
    shape: dict, num_layers: int, vocab_size: int = BENCH_VOCAB_SIZE, audio_tower: dict = TINY_AUDIO_TOWER
):
    """A thinker config with the decoder widths ``shape`` (one of :data:`PUBLISHED_SHAPES`), ``num_layers`` layers,
    a small vocabulary and the audio tower ``audio_tower`` (widths and ``num_layers``, as in
    :data:`PUBLISHED_AUDIO_TOWERS`; a tiny one by default); special ids as in
    :mod:`headrouter.adapters.qwen2_5_omni.tiny`."""
    # the model code is imported where a model is built, so that ``headrouter --version`` does not load it
    from transformers import Qwen2_5OmniThinkerConfig

    from headrouter.adapters.qwen2_5_omni import tiny

    config = Qwen2_5OmniThinkerConfig(
        audio_config=dict(
            num_mel_bins=128, encoder_layers=audio_tower["num_layers"],
            encoder_attention_heads=audio_tower["encoder_attention_heads"],
            encoder_ffn_dim=audio_tower["encoder_ffn_dim"], d_model=audio_tower["d_model"],
            output_dim=shape["hidden_size"], n_window=100, max_source_positions=1500,
        ),
        vision_config=dict(
            depth=1, hidden_size=16, intermediate_size=16, num_heads=2, out_hidden_size=shape["hidden_size"],
            fullatt_block_indexes=[0],
        ),
        text_config=dict(
            vocab_size=vocab_size, hidden_size=shape["hidden_size"], intermediate_size=shape["intermediate_size"],
            num_hidden_layers=num_layers, num_attention_heads=shape["num_attention_heads"],
            num_key_value_heads=shape["num_key_value_heads"], max_position_embeddings=32768,
            pad_token_id=tiny.PAD_TOKEN, rms_norm_eps=1e-6,
            rope_parameters={
                "rope_type": "default", "rope_theta": shape["rope_theta"], "mrope_section": shape["mrope_section"]
            },
        ),
        audio_token_index=tiny.AUDIO_TOKEN, image_token_index=tiny.IMAGE_TOKEN, video_token_index=tiny.VIDEO_TOKEN,
        audio_start_token_id=tiny.AUDIO_BOS, audio_end_token_id=tiny.AUDIO_EOS, user_token_id=1,
    )  # fmt: skip
    config.vision_start_token_id = tiny.VISION_BOS
    return config


def random_model(shape: str, num_layers: int, *, dtype: torch.dtype, attn_implementation: str) -> nn.Module:
    """A random-weight thinker at the published widths ``shape`` ("3B", "7B") with ``num_layers`` decoder layers."""
    if shape not in PUBLISHED_SHAPES:
        raise ValueError(f"Qwen2.5-Omni has no published shape {shape!r}; known: {', '.join(PUBLISHED_SHAPES)}")
    return _thinker(thinker_config(PUBLISHED_SHAPES[shape], num_layers), dtype, attn_implementation)


def random_model_with_audio_tower(
    shape: str, num_layers: int, tower_layers: int, *, dtype: torch.dtype, attn_implementation: str
) -> nn.Module:
    """As :func:`random_model`, with the published audio tower of ``shape`` cut to ``tower_layers`` layers."""
    if shape not in PUBLISHED_SHAPES:
        raise ValueError(f"Qwen2.5-Omni has no published shape {shape!r}; known: {', '.join(PUBLISHED_SHAPES)}")
    tower = {**PUBLISHED_AUDIO_TOWERS[shape], "num_layers": tower_layers}
    return _thinker(thinker_config(PUBLISHED_SHAPES[shape], num_layers, audio_tower=tower), dtype, attn_implementation)


def random_model_from_config(path: str | Path, *, dtype: torch.dtype, attn_implementation: str) -> nn.Module:
    """A random-weight thinker from a thinker config JSON, or from a full Qwen2.5-Omni config (its thinker's)."""
    from transformers import Qwen2_5OmniThinkerConfig

    data = json.loads(Path(path).read_text())
    config = Qwen2_5OmniThinkerConfig.from_dict(data.get("thinker_config", data))
    return _thinker(config, dtype, attn_implementation)


def _thinker(config, dtype: torch.dtype, attn_implementation: str) -> nn.Module:
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    from headrouter.adapters.qwen2_5_omni import tiny

    if getattr(config, "vision_start_token_id", None) is None:
        config.vision_start_token_id = tiny.VISION_BOS  # read unconditionally by get_rope_index
    model = Qwen2_5OmniThinkerForConditionalGeneration._from_config(
        config, attn_implementation=attn_implementation, dtype=dtype
    )
    return model.eval()


def special_token_ids(thinker: nn.Module) -> list[int]:
    """The placeholder, media-boundary and padding ids of ``thinker``'s config."""
    config = thinker.config
    names = ("audio_token_id", "image_token_id", "video_token_id", "audio_start_token_id", "audio_end_token_id")
    ids = [getattr(config, n, None) for n in (*names, "vision_start_token_id")]
    ids.append(config.get_text_config().pad_token_id)
    return sorted({int(i) for i in ids if i is not None})


def placeholder_prompt(
    thinker: nn.Module, audio_tokens: int, *, text_before: int, text_after: int, seed: int = 0
) -> dict[str, torch.Tensor]:
    """``text_before`` random text tokens, ``<audio_bos>``, ``audio_tokens`` placeholders, ``<audio_eos>``,
    ``text_after`` random text tokens; ``input_ids`` and ``attention_mask`` of a batch of one."""
    config = thinker.config
    special = set(special_token_ids(thinker))
    vocab = int(config.get_text_config().vocab_size)
    ordinary = torch.tensor([i for i in range(2, min(vocab, 1000)) if i not in special])
    generator = torch.Generator().manual_seed(seed)
    text = ordinary[torch.randint(len(ordinary), (text_before + text_after,), generator=generator)].tolist()
    audio = [int(config.audio_start_token_id)] + [int(config.audio_token_id)] * audio_tokens
    ids = text[:text_before] + audio + [int(config.audio_end_token_id)] + text[text_before:]
    input_ids = torch.tensor([ids])
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}


def feature_prompt(
    thinker: nn.Module, audio_tokens: int, *, text_before: int, text_after: int, seed: int = 0
) -> dict[str, torch.Tensor]:
    """:func:`placeholder_prompt` plus ``input_features`` of ``4 * audio_tokens`` frames of random log-mel-like values
    (the audio tower's cost does not depend on them) and their ``feature_attention_mask``."""
    prompt = placeholder_prompt(thinker, audio_tokens, text_before=text_before, text_after=text_after, seed=seed)
    frames = FRAMES_PER_TOKEN * audio_tokens
    generator = torch.Generator().manual_seed(seed)
    bins = int(thinker.config.audio_config.num_mel_bins)
    prompt["input_features"] = torch.randn(1, bins, frames, generator=generator) * 0.5
    prompt["feature_attention_mask"] = torch.ones(1, frames, dtype=torch.long)
    return prompt
