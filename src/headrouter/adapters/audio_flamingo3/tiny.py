"""Tiny random-weight Audio Flamingo 3 models, their processor, and synthetic audio prompts, built locally (no
downloads).

The real classes (Whisper-like audio tower, Qwen2 decoder with 1-D RoPE), real ``input_features`` from Whisper's
feature extractor on numpy-made audio, prompts laid out as ``AudioFlamingo3Processor`` lays them out: each clip
cut into windows of the tower's length (the last one shorter, its features padded), and ``<sound>*n`` in the text
with ``n`` the audio tokens of the whole clip, computed from its windows' summed frames as the processor does; and a
real ``AudioFlamingo3Processor`` over a byte-level tokenizer whose ids match the tiny model's, with the released
checkpoint's chat format.
"""

from __future__ import annotations

import torch
from transformers import (
    AudioFlamingo3Config,
    AudioFlamingo3ForConditionalGeneration,
    AudioFlamingo3Processor,
    BatchFeature,
    Qwen2Tokenizer,
    WhisperFeatureExtractor,
)

from headrouter.adapters.qwen2_5_omni.tiny import Prompt, audio_prompt, tone
from headrouter.adapters.tiny_inputs import (
    byte_level_tokenizer,
    padded_ids,
    qwen2_text_config,
    random_model,
    whisper_audio_tokens,
)

SAMPLE_RATE = 16_000
HOP_LENGTH = 160  # Whisper's: 100 mel frames per second
AUDIO_TOKENS_PER_SECOND = 25
# the tiny audio tower's window: max_source_positions * 2 mel frames (500 = 5 s); features are always padded to it,
# as the encoder requires (3000 frames = 30 s for the released checkpoint). Longer clips take several windows.
MAX_SOURCE_POSITIONS = 250
WINDOW_FRAMES = 2 * MAX_SOURCE_POSITIONS
WINDOW_SAMPLES = WINDOW_FRAMES * HOP_LENGTH

# special ids inside the tiny vocabulary; audio_prompt draws text from 2 .. 248
AUDIO_TOKEN = 250  # <sound>
PAD_TOKEN = 0
SPECIAL_TOKENS = (PAD_TOKEN, AUDIO_TOKEN)
IM_START, IM_END = 1, 2  # the chat turns' delimiters; <|im_end|> ends an answer
# the processor hears at most this many windows per clip: 20, as the released one (600 s of 30 s windows)
MAX_WINDOWS = 20

TOKEN_TEXT = {
    PAD_TOKEN: "<|endoftext|>",
    IM_START: "<|im_start|>",
    IM_END: "<|im_end|>",
    AUDIO_TOKEN: "<sound>",
}

# the released checkpoint's chat format (nvidia/audio-flamingo-3-hf): a default system turn, and a user turn of one
# <sound> (if the turn has audio) before all of its text, whatever the order of the items; the processor expands
# <sound> to the clip's audio tokens
CHAT_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "{% for message in messages if message['content'] is not none %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}"
    "{% set turn = namespace(audio=false, text='') %}"
    "{% for item in message['content'] %}"
    "{% if item.get('type') == 'audio' or 'audio' in item %}{% set turn.audio = true %}"
    "{% elif item.get('type') == 'text' or 'text' in item %}{% set turn.text = turn.text + item['text'] %}"
    "{% endif %}{% endfor %}"
    "{% if turn.audio %}<sound>{% endif %}{{ turn.text }}"
    "{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

__all__ = ["Prompt", "audio_prompt", "encode", "tiny_config", "tiny_model", "tiny_processor", "tiny_tokenizer", "tone"]


def tiny_config(
    num_layers: int = 4, hidden_size: int = 64, num_heads: int = 4, num_kv_heads: int = 2, vocab_size: int = 256
) -> AudioFlamingo3Config:
    """An Audio Flamingo 3 config at toy widths: a 2-layer audio tower (d_model 32, 128 mel bins, a 5 s window) and a
    Qwen2 decoder (head dim 16). The decoder is initialised with a larger spread (0.1) than real models, so a random
    model's greedy output varies from token to token."""
    return AudioFlamingo3Config(
        audio_config=dict(
            model_type="audioflamingo3_encoder",
            num_mel_bins=128,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            hidden_size=32,
            max_source_positions=MAX_SOURCE_POSITIONS,
        ),
        text_config=qwen2_text_config(vocab_size, hidden_size, num_layers, num_heads, num_kv_heads, PAD_TOKEN),
        audio_token_id=AUDIO_TOKEN,
    )


def tiny_model(
    attn_implementation: str = "sdpa", seed: int = 0, **config_kwargs
) -> AudioFlamingo3ForConditionalGeneration:
    """A random-weight ``AudioFlamingo3ForConditionalGeneration``, in eval mode."""
    return random_model(
        AudioFlamingo3ForConditionalGeneration,
        tiny_config(**config_kwargs),
        attn_implementation,
        seed,
        PAD_TOKEN,
        list(SPECIAL_TOKENS),
    )


def encode(prompts: list[Prompt], padding_side: str = "left") -> BatchFeature:
    """Model inputs for a batch: ``input_ids``, ``attention_mask``, ``input_features`` (one row per window, padded to
    the tower's window) and ``input_features_mask``."""
    clips = [part for prompt in prompts for part in prompt.parts if not isinstance(part, list)]
    data = {}
    if clips:
        windows = [max(1, -(-c.size // WINDOW_SAMPLES)) for c in clips]
        chunks = [
            c[i * WINDOW_SAMPLES : (i + 1) * WINDOW_SAMPLES]
            for c, n in zip(clips, windows, strict=True)
            for i in range(n)
        ]
        extractor = WhisperFeatureExtractor(feature_size=128, sampling_rate=SAMPLE_RATE)
        features = extractor(
            chunks,
            sampling_rate=SAMPLE_RATE,
            padding="max_length",
            max_length=WINDOW_SAMPLES,
            truncation=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        data["input_features"] = features["input_features"]
        data["input_features_mask"] = features["attention_mask"]
        frames = torch.stack([f.sum() for f in torch.split(features["attention_mask"].sum(-1), windows)])
        counts = iter(whisper_audio_tokens(frames).tolist())
    rows = []
    for prompt in prompts:
        ids: list[int] = []
        for part in prompt.parts:
            ids += part if isinstance(part, list) else [AUDIO_TOKEN] * next(counts)
        rows.append(ids)
    input_ids, attention_mask = padded_ids(rows, PAD_TOKEN, padding_side)
    return BatchFeature({"input_ids": input_ids, "attention_mask": attention_mask, **data})


def tiny_tokenizer() -> Qwen2Tokenizer:
    """Audio Flamingo 3's tokenizer class over the tiny vocabulary
    (:func:`~headrouter.adapters.tiny_inputs.byte_level_tokenizer`): its special tokens at the tiny model's ids, then
    one token per byte. Pads with ``<|endoftext|>`` on the left."""
    return byte_level_tokenizer(
        TOKEN_TEXT, eos_token=TOKEN_TEXT[IM_END], pad_token=TOKEN_TEXT[PAD_TOKEN], chat_template=CHAT_TEMPLATE
    )


def tiny_processor() -> AudioFlamingo3Processor:
    """A real ``AudioFlamingo3Processor`` for the tiny models: ``tiny_tokenizer``, Whisper features at 128 mel bins
    over the tiny tower's 5 s window (the released checkpoint's is 30 s), and up to :data:`MAX_WINDOWS` windows per
    clip (100 s)."""
    window_seconds = WINDOW_SAMPLES // SAMPLE_RATE
    extractor = WhisperFeatureExtractor(
        feature_size=128, sampling_rate=SAMPLE_RATE, chunk_length=window_seconds, return_attention_mask=True
    )
    return AudioFlamingo3Processor(
        feature_extractor=extractor,
        tokenizer=tiny_tokenizer(),
        chat_template=CHAT_TEMPLATE,
        max_audio_len=MAX_WINDOWS * window_seconds,
    )
