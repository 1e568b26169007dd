"""Tiny random-weight Qwen3-Omni models, their processor, and synthetic audio prompts, built locally.

For tests on machines without model downloads: the real classes (the Qwen3-Omni audio tower at toy widths, a thinker
whose decoder layers are all mixtures of experts, as in the released checkpoint, with q/k norms and interleaved mRoPE),
real ``input_features`` from Whisper's feature extractor on numpy-made audio, prompts laid out the way
``Qwen3OmniMoeProcessor`` lays them out (``<|audio_start|> <|audio_pad|>*n <|audio_end|>``), and a real
``Qwen3OmniMoeProcessor`` over a byte-level tokenizer whose ids match the tiny model's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from transformers import (
    BatchFeature,
    Qwen2Tokenizer,
    Qwen2VLImageProcessorPil,
    Qwen2VLVideoProcessor,
    Qwen3OmniMoeConfig,
    Qwen3OmniMoeForConditionalGeneration,
    Qwen3OmniMoeProcessor,
    Qwen3OmniMoeThinkerConfig,
    Qwen3OmniMoeThinkerForConditionalGeneration,
    WhisperFeatureExtractor,
)
from transformers.convert_slow_tokenizer import bytes_to_unicode
from transformers.utils import is_torchvision_available

from headrouter.adapters.qwen2_5_omni.loading import VideoStandIn, allow_processors_without_torchvision
from headrouter.adapters.tiny_inputs import padded_ids

SAMPLE_RATE = 16_000

# special ids inside the tiny vocabulary, named as in Qwen3-Omni
AUDIO_TOKEN, IMAGE_TOKEN, VIDEO_TOKEN = 250, 251, 252
AUDIO_START, AUDIO_END, VISION_START = 253, 254, 255
PAD_TOKEN = 0
# the placeholders and padding: never generated, never drawn as random prompt text
SPECIAL_TOKENS = (PAD_TOKEN, AUDIO_TOKEN, IMAGE_TOKEN, VIDEO_TOKEN, AUDIO_START, AUDIO_END, VISION_START)
IM_START, IM_END, VISION_END = 1, 2, 249
# the tokenizer's byte b has id FIRST_BYTE + b, for bytes 0x00-0xF5: every byte UTF-8 text can hold
FIRST_BYTE, BYTE_COUNT = 3, 0xF6

TOKEN_TEXT = {
    PAD_TOKEN: "<|endoftext|>",
    IM_START: "<|im_start|>",
    IM_END: "<|im_end|>",
    AUDIO_TOKEN: "<|audio_pad|>",
    IMAGE_TOKEN: "<|image_pad|>",
    VIDEO_TOKEN: "<|video_pad|>",
    AUDIO_START: "<|audio_start|>",
    AUDIO_END: "<|audio_end|>",
    VISION_START: "<|vision_start|>",
    VISION_END: "<|vision_end|>",
}
# the tokenizer attributes Qwen3OmniMoeProcessor reads (``tokenizer.audio_token``, ``tokenizer.audio_token_id``, ...)
_NAMED_TOKENS = {
    "audio_token": AUDIO_TOKEN,
    "image_token": IMAGE_TOKEN,
    "video_token": VIDEO_TOKEN,
    "audio_bos_token": AUDIO_START,
    "audio_eos_token": AUDIO_END,
    "vision_bos_token": VISION_START,
    "vision_eos_token": VISION_END,
}

# Qwen3-Omni's chat format (Qwen3's: no default system turn); audio items become
# <|audio_start|><|audio_pad|><|audio_end|>, whose <|audio_pad|> the processor expands to one per audio token
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'audio' %}<|audio_start|><|audio_pad|><|audio_end|>"
    "{% elif item['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif item['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}"
    "{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

CHUNK_FRAMES, TOKENS_PER_CHUNK = 100, 13
"""The audio tower encodes 1 s chunks of 100 mel frames (``2 * n_window``) into 13 tokens each (three stride-2
convolutions); a last, shorter chunk of ``r`` frames gives ``ceil(r / 8)``."""


def audio_tokens(frames: torch.Tensor) -> torch.Tensor:
    """Audio tokens the Qwen3-Omni tower outputs for ``frames`` mel frames (100 per second): 13 per whole second,
    ``ceil(r / 8)`` for the ``r`` frames left over; 3.0 s -> 39, 1.2 s -> 16, 0.8 s -> 10."""
    return frames // CHUNK_FRAMES * TOKENS_PER_CHUNK + (frames % CHUNK_FRAMES + 7) // 8


def tiny_thinker_config(
    num_layers: int = 4,
    hidden_size: int = 64,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    vocab_size: int = 256,
) -> Qwen3OmniMoeThinkerConfig:
    """A thinker config of the real architecture at toy widths: head dim 16, interleaved mRoPE sections 4/2/2, every
    decoder layer a mixture of 4 experts (2 per token), a 2-layer audio tower with the real 1 s chunks and 2 s
    attention windows, a 3-block vision tower with 3 deepstack levels (as the released checkpoint has).

    The decoder is initialised with a larger spread (0.1) than real models so that a random model's greedy output
    varies from token to token, which makes equivalence tests sensitive.
    """
    head_dim = hidden_size // num_heads
    config = Qwen3OmniMoeThinkerConfig(
        audio_config=dict(
            num_mel_bins=128,
            encoder_layers=2,
            encoder_attention_heads=2,
            encoder_ffn_dim=64,
            d_model=32,
            output_dim=hidden_size,
            n_window=CHUNK_FRAMES // 2,
            n_window_infer=2 * CHUNK_FRAMES,
            downsample_hidden_size=8,
        ),
        vision_config=dict(
            depth=3,
            hidden_size=16,
            intermediate_size=16,
            num_heads=2,
            out_hidden_size=hidden_size,
            deepstack_visual_indexes=[0, 1, 2],
            num_position_embeddings=64,
        ),
        text_config=dict(
            vocab_size=vocab_size,
            hidden_size=hidden_size,
            intermediate_size=2 * hidden_size,
            moe_intermediate_size=hidden_size // 2,
            num_experts=4,
            num_experts_per_tok=2,
            num_hidden_layers=num_layers,
            num_attention_heads=num_heads,
            num_key_value_heads=num_kv_heads,
            head_dim=head_dim,
            max_position_embeddings=32768,
            pad_token_id=PAD_TOKEN,
            initializer_range=0.1,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": [head_dim // 2 - 2 * (head_dim // 8), head_dim // 8, head_dim // 8],
                "interleaved": True,
            },
        ),
        audio_token_id=AUDIO_TOKEN,
        image_token_id=IMAGE_TOKEN,
        video_token_id=VIDEO_TOKEN,
        audio_start_token_id=AUDIO_START,
        position_id_per_seconds=13,
        initializer_range=0.1,
    )
    # read by get_rope_index and the talker, not declared by the config class (the released config.json has them)
    config.vision_start_token_id = VISION_START
    config.audio_end_token_id = AUDIO_END
    config.vision_end_token_id = VISION_END
    return config


def _tiny_speech_configs(thinker_hidden_size: int) -> tuple[dict, dict]:
    """Toy talker and code2wav configs: the full model builds them whenever audio output is enabled (its default)."""
    rope = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [4, 2, 2], "interleaved": True}
    talker = dict(
        text_config=dict(
            vocab_size=64,
            hidden_size=32,
            intermediate_size=64,
            moe_intermediate_size=16,
            shared_expert_intermediate_size=16,  # read by the talker, not declared by its config class
            num_experts=2,
            num_experts_per_tok=1,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=16,
            rope_parameters=rope,
        ),
        code_predictor_config=dict(
            vocab_size=32,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=16,
            num_code_groups=2,
        ),
        num_code_groups=2,
        thinker_hidden_size=thinker_hidden_size,
        accept_hidden_layer=2,
        codec_pad_id=50,
        codec_bos_id=51,
        codec_eos_token_id=52,
        codec_nothink_id=53,
        codec_think_bos_id=54,
        codec_think_eos_id=55,
        audio_token_id=AUDIO_TOKEN,
        image_token_id=IMAGE_TOKEN,
        video_token_id=VIDEO_TOKEN,
        vision_start_token_id=VISION_START,
        audio_start_token_id=AUDIO_START,
        position_id_per_seconds=13,
        speaker_id={"ethan": 56},
        spatial_merge_size=2,  # read by the talker, not declared by its config class
    )
    code2wav = dict(
        codebook_size=32,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        num_quantizers=2,
        sliding_window=8,
        upsample_rates=[2, 2],
        upsampling_ratios=[2],
        decoder_dim=16,
    )
    return talker, code2wav


def tiny_model(
    full: bool = False,
    attn_implementation: str = "sdpa",
    seed: int = 0,
    **config_kwargs,
) -> Qwen3OmniMoeThinkerForConditionalGeneration | Qwen3OmniMoeForConditionalGeneration:
    """A random-weight thinker (or, with ``full=True``, the full model with a toy talker and code2wav), in eval mode.

    Generate text from the full model with ``generation_mode="text"``.
    """
    thinker_config = tiny_thinker_config(**config_kwargs)
    torch.manual_seed(seed)
    if full:
        talker, code2wav = _tiny_speech_configs(thinker_config.text_config.hidden_size)
        config = Qwen3OmniMoeConfig(
            thinker_config=thinker_config.to_dict(),
            talker_config=talker,
            code2wav_config=code2wav,
            im_start_token_id=IM_START,
            im_end_token_id=IM_END,
        )
        model = Qwen3OmniMoeForConditionalGeneration._from_config(config, attn_implementation=attn_implementation)
        thinker = model.thinker
    else:
        model = thinker = Qwen3OmniMoeThinkerForConditionalGeneration._from_config(
            thinker_config, attn_implementation=attn_implementation
        )
    thinker.generation_config.pad_token_id = PAD_TOKEN
    # random weights would sometimes write placeholders; a real model never does
    thinker.generation_config.suppress_tokens = list(SPECIAL_TOKENS)
    return model.eval()


def tiny_tokenizer() -> Qwen2Tokenizer:
    """Qwen3-Omni's tokenizer class over the tiny vocabulary: its special tokens at the tiny model's ids, then one
    token per byte (no merges), 256 ids in all. Pads with ``<|endoftext|>`` on the left.

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


def tiny_processor() -> Qwen3OmniMoeProcessor:
    """A real ``Qwen3OmniMoeProcessor`` for the tiny models: ``tiny_tokenizer``, Whisper features at 128 mel bins,
    Qwen2-VL's image processor, and Qwen2-VL's video processor or, without torchvision, ``VideoStandIn``."""
    allow_processors_without_torchvision()
    return Qwen3OmniMoeProcessor(
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
    """Random byte tokens, then each clip, then more text: ``text0 clip0 text1 clip1 ... textN``."""
    rng = np.random.default_rng(seed)
    lengths = text_lengths or [5] * (len(clips) + 1)
    if len(lengths) != len(clips) + 1:
        raise ValueError(f"text_lengths needs {len(clips) + 1} entries for {len(clips)} clips, got {len(lengths)}")
    parts: list = []
    for i, n in enumerate(lengths):
        parts.append(rng.integers(FIRST_BYTE, FIRST_BYTE + BYTE_COUNT, n).tolist())
        if i < len(clips):
            parts.append(clips[i])
    return Prompt(parts)


def encode(prompts: list[Prompt], padding_side: str = "left") -> BatchFeature:
    """Model inputs for a batch, as ``Qwen3OmniMoeProcessor`` makes them: ``input_ids``, ``attention_mask``, and for
    the clips (padded to the longest, never cut) ``input_features`` and ``feature_attention_mask``."""
    clips = [part for prompt in prompts for part in prompt.parts if isinstance(part, np.ndarray)]
    data = {}
    if clips:
        extractor = WhisperFeatureExtractor(feature_size=128, sampling_rate=SAMPLE_RATE)
        features = extractor(
            clips,
            sampling_rate=SAMPLE_RATE,
            padding="longest",
            truncation=False,
            return_attention_mask=True,
            return_tensors="pt",
        )
        data["input_features"] = features["input_features"]
        data["feature_attention_mask"] = features["attention_mask"]
        counts = iter(audio_tokens(features["attention_mask"].sum(-1)).tolist())
    rows = []
    for prompt in prompts:
        ids: list[int] = []
        for part in prompt.parts:
            if isinstance(part, np.ndarray):
                ids += [AUDIO_START] + [AUDIO_TOKEN] * next(counts) + [AUDIO_END]
            else:
                ids += list(part)
        rows.append(ids)
    input_ids, attention_mask = padded_ids(rows, PAD_TOKEN, padding_side)
    return BatchFeature({"input_ids": input_ids, "attention_mask": attention_mask, **data})
