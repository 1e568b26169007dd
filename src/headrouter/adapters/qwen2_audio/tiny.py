"""Tiny random-weight Qwen2-Audio models, their processor, and synthetic audio prompts, built locally (no downloads).

The real classes (Whisper-like audio tower, Qwen2 decoder with 1-D RoPE), real ``input_features`` from Whisper's
feature extractor on numpy-made audio, prompts laid out as ``Qwen2AudioProcessor`` lays them out:
``<|audio_bos|> <|AUDIO|>*n <|audio_eos|>`` with ``n`` what the audio tower outputs for the clip, and a real
``Qwen2AudioProcessor`` over a byte-level tokenizer whose ids match the tiny model's, with Qwen2-Audio-7B-Instruct's
chat format.
"""

from __future__ import annotations

from transformers import (
    BatchFeature,
    Qwen2AudioConfig,
    Qwen2AudioForConditionalGeneration,
    Qwen2AudioProcessor,
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
# as Qwen2-Audio's encoder requires (3000 frames = 30 s for the released checkpoints)
MAX_SOURCE_POSITIONS = 250
WINDOW_FRAMES = 2 * MAX_SOURCE_POSITIONS

# special ids inside the tiny vocabulary, named as in Qwen2-Audio; audio_prompt draws text from 2 .. 248
AUDIO_TOKEN, AUDIO_BOS, AUDIO_EOS = 250, 251, 252
PAD_TOKEN = 0
SPECIAL_TOKENS = (PAD_TOKEN, AUDIO_TOKEN, AUDIO_BOS, AUDIO_EOS)
IM_START, IM_END = 1, 2  # the chat turns' delimiters; <|im_end|> ends an answer

TOKEN_TEXT = {
    PAD_TOKEN: "<|endoftext|>",
    IM_START: "<|im_start|>",
    IM_END: "<|im_end|>",
    AUDIO_TOKEN: "<|AUDIO|>",
    AUDIO_BOS: "<|audio_bos|>",
    AUDIO_EOS: "<|audio_eos|>",
}

# Qwen2-Audio-7B-Instruct's chat format: a default system turn, and each audio item as "Audio k: " and the
# placeholder between its boundaries on its own line (the processor expands <|AUDIO|> to the clip's audio tokens)
CHAT_TEMPLATE = (
    "{% set audio_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'audio' or 'audio' in content or 'audio_url' in content %}"
    "{% set audio_count.value = audio_count.value + 1 %}"
    "Audio {{ audio_count.value }}: <|audio_bos|><|AUDIO|><|audio_eos|>\n"
    "{% elif 'text' in content %}{{ content['text'] }}"
    "{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

__all__ = ["Prompt", "audio_prompt", "encode", "tiny_config", "tiny_model", "tiny_processor", "tiny_tokenizer", "tone"]


def tiny_config(
    num_layers: int = 4, hidden_size: int = 64, num_heads: int = 4, num_kv_heads: int = 2, vocab_size: int = 256
) -> Qwen2AudioConfig:
    """A Qwen2-Audio config at toy widths: a 2-layer audio tower (d_model 32, 128 mel bins, a 5 s window) and a Qwen2
    decoder (head dim 16). The decoder is initialised with a larger spread (0.1) than real models, so a random
    model's greedy output varies from token to token."""
    return Qwen2AudioConfig(
        audio_config=dict(
            model_type="qwen2_audio_encoder",
            num_mel_bins=128,
            encoder_layers=2,
            encoder_attention_heads=2,
            encoder_ffn_dim=64,
            d_model=32,
            max_source_positions=MAX_SOURCE_POSITIONS,
        ),
        text_config=qwen2_text_config(vocab_size, hidden_size, num_layers, num_heads, num_kv_heads, PAD_TOKEN),
        audio_token_index=AUDIO_TOKEN,
    )


def tiny_model(attn_implementation: str = "sdpa", seed: int = 0, **config_kwargs) -> Qwen2AudioForConditionalGeneration:
    """A random-weight ``Qwen2AudioForConditionalGeneration``, in eval mode."""
    return random_model(
        Qwen2AudioForConditionalGeneration,
        tiny_config(**config_kwargs),
        attn_implementation,
        seed,
        PAD_TOKEN,
        list(SPECIAL_TOKENS),
    )


def encode(prompts: list[Prompt], padding_side: str = "left") -> BatchFeature:
    """Model inputs for a batch: ``input_ids``, ``attention_mask``, ``input_features`` (padded to the tower's window)
    and ``feature_attention_mask``."""
    clips = [part for prompt in prompts for part in prompt.parts if not isinstance(part, list)]
    data = {}
    if clips:
        if max(c.size for c in clips) > WINDOW_FRAMES * HOP_LENGTH:
            raise ValueError(f"the tiny audio tower takes clips of at most {WINDOW_FRAMES * HOP_LENGTH} samples")
        extractor = WhisperFeatureExtractor(feature_size=128, sampling_rate=SAMPLE_RATE)
        features = extractor(
            clips,
            sampling_rate=SAMPLE_RATE,
            padding="max_length",
            max_length=WINDOW_FRAMES * HOP_LENGTH,
            truncation=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        data["input_features"] = features["input_features"]
        data["feature_attention_mask"] = features["attention_mask"]
        counts = iter(whisper_audio_tokens(features["attention_mask"].sum(-1)).tolist())
    rows = []
    for prompt in prompts:
        ids: list[int] = []
        for part in prompt.parts:
            if isinstance(part, list):
                ids += part
            else:
                ids += [AUDIO_BOS] + [AUDIO_TOKEN] * next(counts) + [AUDIO_EOS]
        rows.append(ids)
    input_ids, attention_mask = padded_ids(rows, PAD_TOKEN, padding_side)
    return BatchFeature({"input_ids": input_ids, "attention_mask": attention_mask, **data})


def tiny_tokenizer() -> Qwen2Tokenizer:
    """Qwen2-Audio's tokenizer class over the tiny vocabulary
    (:func:`~headrouter.adapters.tiny_inputs.byte_level_tokenizer`): its special tokens at the tiny model's ids, then
    one token per byte. Pads with ``<|endoftext|>`` on the left."""
    return byte_level_tokenizer(
        TOKEN_TEXT, eos_token=TOKEN_TEXT[IM_END], pad_token=TOKEN_TEXT[PAD_TOKEN], chat_template=CHAT_TEMPLATE
    )


def tiny_processor() -> Qwen2AudioProcessor:
    """A real ``Qwen2AudioProcessor`` for the tiny models: ``tiny_tokenizer`` and Whisper features at 128 mel bins over
    the tiny tower's 5 s window (the released checkpoints' is 30 s), which the processor pads every clip to."""
    extractor = WhisperFeatureExtractor(
        feature_size=128, sampling_rate=SAMPLE_RATE, chunk_length=WINDOW_FRAMES * HOP_LENGTH // SAMPLE_RATE
    )
    return Qwen2AudioProcessor(feature_extractor=extractor, tokenizer=tiny_tokenizer(), chat_template=CHAT_TEMPLATE)
