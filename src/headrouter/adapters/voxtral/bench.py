"""What ``headrouter bench`` needs of Voxtral: the published decoder widths, random-weight models built at them, the
placeholder prompt and the special ids a random model must never generate (a model from a config file is built by
:class:`~headrouter.adapters.qwen2_decoder.Qwen2DecoderAdapter`, as for the other families on it).

Voxtral does not fit that base's built-in model and prompt: its decoder's head dim (128) is not hidden size / heads,
mistral-common writes an audio start token but no end token, and its vocabulary starts with control ids.

The built-in model has the tiny audio tower of :mod:`.tiny` (which the benchmark never runs) and the tiny tekken
vocabulary (296 ids: 40 control ids, then bytes), so its prompts are those of the tiny models.
"""

from __future__ import annotations

import torch
from torch import nn

PUBLISHED_SHAPES: dict[str, dict] = {
    "3B": {
        "hidden_size": 3072,
        "num_hidden_layers": 30,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "intermediate_size": 8192,
        "head_dim": 128,
        "rms_norm_eps": 1e-5,
        "rope_theta": 100_000_000.0,
    },
    "24B": {
        "hidden_size": 5120,
        "num_hidden_layers": 40,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "intermediate_size": 32768,
        "head_dim": 128,
        "rms_norm_eps": 1e-5,
        "rope_theta": 100_000_000.0,
    },
}
"""The Llama decoders of Voxtral-Mini-3B-2507 and Voxtral-Small-24B-2507 (head dim 128: the query width, 4096, is
not the hidden size in either)."""

RELEASED_CONTROL_TOKENS = 1000
"""Control ids at the start of the released tekken vocabularies (131072 ids); text tokens come after them."""


def model_config(shape: dict, num_layers: int):
    """A Voxtral config with the decoder widths ``shape`` (one of :data:`PUBLISHED_SHAPES`), ``num_layers`` layers,
    the tiny vocabulary and the tiny audio tower; special ids as in :mod:`headrouter.adapters.voxtral.tiny`."""
    # the model code is imported where a model is built, so that ``headrouter --version`` does not load it
    from transformers import VoxtralConfig

    from headrouter.adapters.voxtral import tiny

    return VoxtralConfig(
        audio_config=tiny.tiny_audio_config(num_layers=1),
        text_config=dict(
            model_type="llama", vocab_size=tiny.VOCAB_SIZE, hidden_size=shape["hidden_size"],
            intermediate_size=shape["intermediate_size"], num_hidden_layers=num_layers,
            num_attention_heads=shape["num_attention_heads"], num_key_value_heads=shape["num_key_value_heads"],
            head_dim=shape["head_dim"], max_position_embeddings=131072, rms_norm_eps=shape["rms_norm_eps"],
            rope_parameters={"rope_type": "default", "rope_theta": shape["rope_theta"]},
            pad_token_id=tiny.PAD_TOKEN, bos_token_id=tiny.BOS, eos_token_id=tiny.EOS,
        ),
        audio_token_id=tiny.AUDIO_TOKEN,
    )  # fmt: skip


def random_model(shape: str, num_layers: int, *, dtype: torch.dtype, attn_implementation: str) -> nn.Module:
    """A random-weight Voxtral at the published decoder widths ``shape`` ("3B", "24B") with ``num_layers`` layers."""
    if shape not in PUBLISHED_SHAPES:
        raise ValueError(f"Voxtral has no published shape {shape!r}; known: {', '.join(PUBLISHED_SHAPES)}")
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"num_layers must be an int >= 1, got {num_layers!r}")
    from transformers import VoxtralForConditionalGeneration

    config = model_config(PUBLISHED_SHAPES[shape], num_layers)
    return VoxtralForConditionalGeneration._from_config(
        config, attn_implementation=attn_implementation, dtype=dtype
    ).eval()


def first_text_id(model: nn.Module) -> int:
    """The first id after the control tokens: the released vocabularies' 1000, or the tiny one's 40."""
    from headrouter.adapters.voxtral import tiny

    vocab = int(model.config.text_config.vocab_size)
    return RELEASED_CONTROL_TOKENS if vocab >= RELEASED_CONTROL_TOKENS + 256 else tiny.FIRST_BYTE


def special_token_ids(model: nn.Module) -> list[int]:
    """Every control id of the model's vocabulary but ``</s>``: the audio placeholder and its start, padding and the
    chat controls."""
    eos = model.config.text_config.eos_token_id
    return [i for i in range(first_text_id(model)) if i != eos]


def placeholder_prompt(
    model: nn.Module, audio_tokens: int, *, text_before: int, text_after: int, seed: int = 0
) -> dict[str, torch.Tensor]:
    """``text_before`` random text tokens, ``[BEGIN_AUDIO]``, ``audio_tokens`` ``[AUDIO]`` placeholders, then
    ``text_after`` random text tokens, as mistral-common lays out one clip (there is no end-of-audio token);
    ``input_ids`` and ``attention_mask`` of a batch of one."""
    from headrouter.adapters.voxtral import tiny

    if audio_tokens < 1 or text_before < 0 or text_after < 0:
        raise ValueError(
            f"placeholder_prompt needs audio_tokens >= 1 and text lengths >= 0, got audio_tokens={audio_tokens}, "
            f"text_before={text_before}, text_after={text_after}"
        )
    first = first_text_id(model)
    generator = torch.Generator().manual_seed(seed)
    text = torch.randint(first, first + 256, (text_before + text_after,), generator=generator).tolist()
    audio = int(model.config.audio_token_id)
    ids = text[:text_before] + [tiny.BEGIN_AUDIO] + [audio] * audio_tokens + text[text_before:]
    input_ids = torch.tensor([ids])
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
