"""The model ``headrouter bench`` times and its prompt: the built-in random thinker at Qwen2.5-Omni-3B decoder widths
(or a config's, or a local checkpoint), and a prompt of text around N audio placeholders without audio features."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from headrouter.bench import flops
from headrouter.bench.settings import DEFAULT_LAYERS, DTYPES, BenchSettings

if TYPE_CHECKING:
    from transformers import Qwen2_5OmniThinkerConfig

TEXT_BEFORE = 4
"""Text tokens before ``<audio_bos>`` in the benchmark prompt."""
TEXT_AFTER = 16
"""Text tokens of instruction after ``<audio_eos>``."""

QWEN25_OMNI_3B = {
    "hidden_size": 2048,
    "num_attention_heads": 16,
    "num_key_value_heads": 2,
    "intermediate_size": 11008,
    "num_hidden_layers": 36,
    "rope_theta": 1_000_000.0,
    "mrope_section": [16, 24, 24],
}
"""The thinker decoder of Qwen2.5-Omni-3B (head dim 128); the built-in model uses these widths."""


def bench_thinker_config(num_layers: int = DEFAULT_LAYERS, vocab_size: int = 256) -> Qwen2_5OmniThinkerConfig:
    """A thinker config with the decoder widths of Qwen2.5-Omni-3B, ``num_layers`` layers, a small vocabulary
    and a tiny audio tower (which the benchmark never runs);
    special ids as in :mod:`headrouter.adapters.qwen2_5_omni.tiny`."""
    # the model code is imported where a model is built, so that ``headrouter --version`` does not load it
    from transformers import Qwen2_5OmniThinkerConfig

    from headrouter.adapters.qwen2_5_omni import tiny

    shape = QWEN25_OMNI_3B
    config = Qwen2_5OmniThinkerConfig(
        audio_config=dict(
            num_mel_bins=128, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=64, d_model=32,
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


def load_model(settings: BenchSettings) -> tuple[nn.Module, dict]:
    """The thinker to benchmark, in eval mode, and a description of where it came from."""
    from transformers import (
        Qwen2_5OmniForConditionalGeneration,
        Qwen2_5OmniThinkerConfig,
        Qwen2_5OmniThinkerForConditionalGeneration,
    )

    from headrouter.adapters.qwen2_5_omni import tiny

    dtype = DTYPES[settings.dtype]
    attn = settings.attn_implementation
    torch.manual_seed(settings.seed)
    if settings.model_path:
        path = Path(settings.model_path)
        model_type = json.loads((path / "config.json").read_text()).get("model_type")
        cls = (
            Qwen2_5OmniForConditionalGeneration
            if model_type == "qwen2_5_omni"
            else Qwen2_5OmniThinkerForConditionalGeneration
        )
        loaded = cls.from_pretrained(path, dtype=dtype, attn_implementation=attn, local_files_only=True)
        model = getattr(loaded, "thinker", loaded)
        source, random_weights = f"checkpoint {path}", False
    else:
        if settings.config_path:
            data = json.loads(Path(settings.config_path).read_text())
            data = data.get("thinker_config", data)  # a full Qwen2.5-Omni config holds the thinker's
            config = Qwen2_5OmniThinkerConfig.from_dict(data)
            source = f"random weights from config {settings.config_path}"
        else:
            config = bench_thinker_config(settings.num_layers or DEFAULT_LAYERS)
            source = "random weights, Qwen2.5-Omni-3B decoder widths (built-in config)"
        if getattr(config, "vision_start_token_id", None) is None:
            config.vision_start_token_id = tiny.VISION_BOS  # read unconditionally by get_rope_index
        model = Qwen2_5OmniThinkerForConditionalGeneration._from_config(config, attn_implementation=attn, dtype=dtype)
        random_weights = True
    model.eval()
    if random_weights:
        model.generation_config.suppress_tokens = _special_ids(model)  # a real model never writes placeholders
    shape = flops.DecoderShape.from_config(model.config.get_text_config())
    info = {
        "source": source,
        "class": type(model).__name__,
        "random_weights": random_weights,
        "decoder": shape.to_dict(),
        "vocab_size": int(model.config.get_text_config().vocab_size),
        "parameters": sum(p.numel() for p in model.parameters()),
        "dtype": settings.dtype,
        "attn_implementation": attn,
    }
    return model, info


def make_inputs(model: nn.Module, audio_tokens: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """One prompt: ``TEXT_BEFORE`` text tokens, ``<audio_bos>``, ``audio_tokens`` placeholders, ``<audio_eos>``,
    ``TEXT_AFTER`` text tokens; ``input_ids`` and ``attention_mask`` only (no ``input_features``)."""
    config = model.config
    special = set(_special_ids(model))
    vocab = int(config.get_text_config().vocab_size)
    ordinary = torch.tensor([i for i in range(2, min(vocab, 1000)) if i not in special])
    generator = torch.Generator().manual_seed(seed)
    text = ordinary[torch.randint(len(ordinary), (TEXT_BEFORE + TEXT_AFTER,), generator=generator)].tolist()
    audio = [int(config.audio_start_token_id)] + [int(config.audio_token_id)] * audio_tokens
    ids = text[:TEXT_BEFORE] + audio + [int(config.audio_end_token_id)] + text[TEXT_BEFORE:]
    input_ids = torch.tensor([ids])
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}


def _special_ids(model: nn.Module) -> list[int]:
    config = model.config
    names = ("audio_token_id", "image_token_id", "video_token_id", "audio_start_token_id", "audio_end_token_id")
    ids = [getattr(config, n, None) for n in (*names, "vision_start_token_id")]
    ids.append(config.get_text_config().pad_token_id)
    return sorted({int(i) for i in ids if i is not None})
