"""Tiny random-weight Qwen2.5-Omni models, their processor, and synthetic audio prompts, built locally.

For demos, tests and benchmarks on machines without model downloads: the real classes (audio tower,
mRoPE thinker), real ``input_features`` from Whisper's feature extractor on numpy-made audio, prompts laid
out the way ``Qwen2_5OmniProcessor`` lays them out (``<audio_bos> <AUDIO>*n <audio_eos>``), and a real
``Qwen2_5OmniProcessor`` over a byte-level tokenizer whose ids match the tiny model's.

transformers 5.23 builds the processor's video part only through torchvision, even for audio-only use; where
torchvision is missing, ``tiny_processor`` puts :class:`~.loading.VideoStandIn` in that slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from transformers import (
    BatchFeature,
    Qwen2_5OmniConfig,
    Qwen2_5OmniForConditionalGeneration,
    Qwen2_5OmniProcessor,
    Qwen2_5OmniThinkerConfig,
    Qwen2_5OmniThinkerForConditionalGeneration,
    Qwen2Tokenizer,
    Qwen2VLImageProcessorPil,
    Qwen2VLVideoProcessor,
    WhisperFeatureExtractor,
)
from transformers.convert_slow_tokenizer import bytes_to_unicode
from transformers.utils import is_torchvision_available

from headrouter.adapters.qwen2_5_omni.loading import VideoStandIn, allow_processors_without_torchvision
from headrouter.adapters.tiny_inputs import padded_ids, whisper_audio_tokens

SAMPLE_RATE = 16_000
AUDIO_TOKENS_PER_SECOND = 25

# special ids inside the tiny vocabulary, named as in Qwen2.5-Omni
AUDIO_TOKEN, IMAGE_TOKEN, VIDEO_TOKEN = 250, 251, 252
AUDIO_BOS, AUDIO_EOS, VISION_BOS = 253, 254, 255
PAD_TOKEN = 0
# the placeholders and padding: never generated, never drawn as random prompt text
SPECIAL_TOKENS = (PAD_TOKEN, AUDIO_TOKEN, IMAGE_TOKEN, VIDEO_TOKEN, AUDIO_BOS, AUDIO_EOS, VISION_BOS)
IM_START, IM_END, VISION_EOS = 1, 2, 249
# the tokenizer's byte b has id FIRST_BYTE + b, for bytes 0x00-0xF5: every byte UTF-8 text can hold
FIRST_BYTE, BYTE_COUNT = 3, 0xF6

TOKEN_TEXT = {
    PAD_TOKEN: "<|endoftext|>",
    IM_START: "<|im_start|>",
    IM_END: "<|im_end|>",
    AUDIO_TOKEN: "<|AUDIO|>",
    IMAGE_TOKEN: "<|IMAGE|>",
    VIDEO_TOKEN: "<|VIDEO|>",
    AUDIO_BOS: "<|audio_bos|>",
    AUDIO_EOS: "<|audio_eos|>",
    VISION_BOS: "<|vision_bos|>",
    VISION_EOS: "<|vision_eos|>",
}
# the tokenizer attributes Qwen2_5OmniProcessor reads (``tokenizer.audio_token``, ``tokenizer.audio_token_id``, ...)
_NAMED_TOKENS = {
    "audio_token": AUDIO_TOKEN,
    "image_token": IMAGE_TOKEN,
    "video_token": VIDEO_TOKEN,
    "audio_bos_token": AUDIO_BOS,
    "audio_eos_token": AUDIO_EOS,
    "vision_bos_token": VISION_BOS,
    "vision_eos_token": VISION_EOS,
}

# Qwen2.5-Omni's chat format; audio items become <|audio_bos|><|AUDIO|><|audio_eos|>, which the processor expands
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'audio' %}<|audio_bos|><|AUDIO|><|audio_eos|>"
    "{% elif item['type'] == 'image' %}<|vision_bos|><|IMAGE|><|vision_eos|>"
    "{% elif item['type'] == 'video' %}<|vision_bos|><|VIDEO|><|vision_eos|>"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}"
    "{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_thinker_config(
    num_layers: int = 4,
    hidden_size: int = 64,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    vocab_size: int = 256,
) -> Qwen2_5OmniThinkerConfig:
    """A thinker config of the real architecture at toy widths (head dim 16, mRoPE sections 2/3/3).

    The decoder is initialised with a larger spread (0.1) than real models so that a random model's greedy
    output varies from token to token, which makes equivalence tests sensitive.
    """
    head_dim = hidden_size // num_heads
    half = head_dim // 2
    sections = [half - 2 * (half * 3 // 8), half * 3 // 8, half * 3 // 8]
    config = Qwen2_5OmniThinkerConfig(
        audio_config=dict(
            num_mel_bins=128,
            encoder_layers=2,
            encoder_attention_heads=2,
            encoder_ffn_dim=64,
            d_model=32,
            output_dim=hidden_size,
            n_window=100,
            max_source_positions=1500,
        ),
        vision_config=dict(
            depth=1,
            hidden_size=16,
            intermediate_size=16,
            num_heads=2,
            out_hidden_size=hidden_size,
            fullatt_block_indexes=[0],
        ),
        text_config=dict(
            vocab_size=vocab_size,
            hidden_size=hidden_size,
            intermediate_size=2 * hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=num_heads,
            num_key_value_heads=num_kv_heads,
            max_position_embeddings=32768,
            pad_token_id=PAD_TOKEN,
            initializer_range=0.1,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": sections},
        ),
        audio_token_index=AUDIO_TOKEN,
        image_token_index=IMAGE_TOKEN,
        video_token_index=VIDEO_TOKEN,
        audio_start_token_id=AUDIO_BOS,
        audio_end_token_id=AUDIO_EOS,
        user_token_id=1,
    )
    config.vision_start_token_id = VISION_BOS
    return config


def _tiny_speech_configs() -> tuple[dict, dict]:
    """Toy talker and token2wav configs: transformers' full-model ``generate`` needs a talker to exist even for
    text-only output (it reads the talker's pad token unconditionally)."""
    talker = dict(
        vocab_size=256,
        embedding_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        audio_token_index=AUDIO_TOKEN,
        image_token_index=IMAGE_TOKEN,
        video_token_index=VIDEO_TOKEN,
        vision_start_token_id=VISION_BOS,
        vision_end_token_id=VISION_EOS,
        audio_start_token_id=AUDIO_BOS,
        audio_end_token_id=AUDIO_EOS,
        tts_text_start_token_id=10,
        tts_text_end_token_id=11,
        tts_text_pad_token_id=12,
        tts_codec_start_token_id=60,
        tts_codec_end_token_id=61,
        tts_codec_pad_token_id=62,
        tts_codec_mask_token_id=63,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
    )
    token2wav = dict(
        dit_config=dict(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            head_dim=16,
            emb_dim=16,
            enc_emb_dim=16,
            enc_dim=16,
            enc_channels=[16, 16, 16, 16, 48],
            enc_attention_channels=8,
            enc_se_channels=8,
            num_embeds=64,
            mel_dim=8,
            look_ahead_layers=[0],
            look_backward_layers=[0],
        ),
        bigvgan_config=dict(
            mel_dim=8,
            upsample_initial_channel=16,
            upsample_rates=[2, 2],
            upsample_kernel_sizes=[4, 4],
            resblock_kernel_sizes=[3],
            resblock_dilation_sizes=[[1, 3, 5]],
        ),
    )
    return talker, token2wav


def tiny_model(
    full: bool = False,
    attn_implementation: str = "sdpa",
    seed: int = 0,
    **config_kwargs,
) -> Qwen2_5OmniThinkerForConditionalGeneration | Qwen2_5OmniForConditionalGeneration:
    """A random-weight thinker (or, with ``full=True``, the full model with a toy talker), in eval mode.

    Generate text from the full model with ``generation_mode="text"``.
    """
    thinker_config = tiny_thinker_config(**config_kwargs)
    torch.manual_seed(seed)
    if full:
        talker, token2wav = _tiny_speech_configs()
        config = Qwen2_5OmniConfig(
            thinker_config=thinker_config.to_dict(), talker_config=talker, token2wav_config=token2wav
        )
        config.thinker_config.vision_start_token_id = VISION_BOS
        model = Qwen2_5OmniForConditionalGeneration._from_config(config, attn_implementation=attn_implementation)
        # generate() checks the speaker name even for text-only output; no speaker data is needed for text
        model.speaker_map = {"Chelsie": {}}
        thinker = model.thinker
    else:
        model = thinker = Qwen2_5OmniThinkerForConditionalGeneration._from_config(
            thinker_config, attn_implementation=attn_implementation
        )
    thinker.generation_config.pad_token_id = PAD_TOKEN
    # random weights would sometimes write placeholders; a real model never does
    thinker.generation_config.suppress_tokens = list(SPECIAL_TOKENS)
    return model.eval()


def tiny_tokenizer() -> Qwen2Tokenizer:
    """Qwen2.5-Omni's tokenizer class over the tiny vocabulary: its special tokens at the tiny model's ids, then
    one token per byte (no merges), 256 ids in all. Pads with ``<|endoftext|>`` on the left.

    Built from ``vocab=``/``merges=`` rather than a ``tokenizer_object``: ``Qwen2Tokenizer`` rebuilds its
    normalizer, pre-tokenizer and decoder from those two on every load, so this is what ``from_pretrained`` gives back.
    """
    byte_symbols = bytes_to_unicode()  # the printable character byte-level BPE writes for each byte
    vocab = {text: i for i, text in TOKEN_TEXT.items()}
    vocab |= {byte_symbols[b]: FIRST_BYTE + b for b in range(BYTE_COUNT)}
    return Qwen2Tokenizer(
        vocab=vocab,
        merges=[],
        unk_token=None,
        eos_token=TOKEN_TEXT[IM_END],
        pad_token=TOKEN_TEXT[PAD_TOKEN],
        extra_special_tokens=[TOKEN_TEXT[IM_START], TOKEN_TEXT[IM_END]],
        padding_side="left",
        chat_template=CHAT_TEMPLATE,
        **{name: TOKEN_TEXT[token_id] for name, token_id in _NAMED_TOKENS.items()},
    )


def tiny_processor() -> Qwen2_5OmniProcessor:
    """A real ``Qwen2_5OmniProcessor`` for the tiny models: ``tiny_tokenizer``, Whisper features at 128 mel bins,
    Qwen2-VL's image processor, and Qwen2-VL's video processor or, without torchvision, ``VideoStandIn``."""
    allow_processors_without_torchvision()
    return Qwen2_5OmniProcessor(
        image_processor=Qwen2VLImageProcessorPil(),
        video_processor=Qwen2VLVideoProcessor() if is_torchvision_available() else VideoStandIn(),
        feature_extractor=WhisperFeatureExtractor(feature_size=128, sampling_rate=SAMPLE_RATE),
        tokenizer=tiny_tokenizer(),
        chat_template=CHAT_TEMPLATE,
    )


def tone(seconds: float, frequency: float = 440.0, seed: int = 0) -> np.ndarray:
    """A sine tone over a little noise, 16 kHz float32."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    noise = np.random.default_rng(seed).standard_normal(t.size) * 0.01
    return (0.3 * np.sin(2 * np.pi * frequency * t) + noise).astype(np.float32)


@dataclass
class Prompt:
    """One sample: ``parts`` alternates text (``list[int]`` token ids) and audio clips (``np.ndarray``)."""

    parts: list = field(default_factory=list)


def audio_prompt(clips: list[np.ndarray], text_lengths: list[int] | None = None, seed: int = 0) -> Prompt:
    """Random text tokens, then each clip, then more text: ``text0 clip0 text1 clip1 ... textN``."""
    rng = np.random.default_rng(seed)
    lengths = text_lengths or [5] * (len(clips) + 1)
    if len(lengths) != len(clips) + 1:
        raise ValueError(f"text_lengths needs {len(clips) + 1} entries for {len(clips)} clips, got {len(lengths)}")
    parts: list = []
    for i, n in enumerate(lengths):
        parts.append(rng.integers(2, min(SPECIAL_TOKENS[1:]), n).tolist())
        if i < len(clips):
            parts.append(clips[i])
    return Prompt(parts)


def encode(prompts: list[Prompt], padding_side: str = "left") -> BatchFeature:
    """Model inputs for a batch: ``input_ids``, ``attention_mask``, ``input_features``, ``feature_attention_mask``."""
    clips = [part for prompt in prompts for part in prompt.parts if isinstance(part, np.ndarray)]
    data = {}
    if clips:
        extractor = WhisperFeatureExtractor(feature_size=128, sampling_rate=SAMPLE_RATE)
        features = extractor(
            clips,
            sampling_rate=SAMPLE_RATE,
            padding="max_length",
            max_length=max(c.size for c in clips),
            truncation=False,
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
            if isinstance(part, np.ndarray):
                ids += [AUDIO_BOS] + [AUDIO_TOKEN] * next(counts) + [AUDIO_EOS]
            else:
                ids += list(part)
        rows.append(ids)
    input_ids, attention_mask = padded_ids(rows, PAD_TOKEN, padding_side)
    return BatchFeature({"input_ids": input_ids, "attention_mask": attention_mask, **data})
