"""Tiny random-weight Gemma 3n models, their processor, and synthetic audio prompts, built locally (no downloads).

The real classes (the USM-like conformer audio tower, the AltUp decoder with per-layer inputs, sliding-window layers
and KV sharing), real ``input_features`` from Gemma 3n's feature extractor on numpy-made audio, and prompts laid out
as ``Gemma3nProcessor`` lays them out: every clip (at most 30 s) becomes ``\\n\\n<start_of_audio>``, 188
``<audio_soft_token>`` and ``<end_of_audio>\\n\\n``, whatever its length (the model pads the tower's output to 188);
and a real ``Gemma3nProcessor`` over a tiny Gemma tokenizer (byte fallback, no merges) whose ids match the tiny
model's, laid out as the released vocabulary is: text ids, then the image tokens' block, then the audio tokens'. The
vision tower is a stand-in (:mod:`.vision`): timm's MobileNetV5 is not needed for audio.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import (
    BatchFeature,
    Gemma3nAudioFeatureExtractor,
    Gemma3nConfig,
    Gemma3nForConditionalGeneration,
    Gemma3nProcessor,
    GemmaTokenizer,
    SiglipImageProcessorPil,
)

from headrouter.adapters.gemma3n.vision import without_vision_tower
from headrouter.adapters.qwen2_5_omni.tiny import Prompt, tone
from headrouter.adapters.tiny_inputs import padded_ids

SAMPLE_RATE = 16_000
CLIP_SAMPLES = 480_000
"""The longest clip the feature extractor keeps (30 s; its ``max_length``), longer ones are cut."""
AUDIO_TOKENS_PER_CLIP = 188
"""Placeholders per clip, whatever its length: the processor's ``audio_seq_length`` and the model's
``audio_soft_tokens_per_image`` (the tower outputs one token per 160 ms, 6.25 per second: 188 for 30 s)."""

# the text vocabulary (ids < TEXT_VOCAB, as the per-layer embeddings count it), named as in Gemma 3n
PAD_TOKEN, EOS, BOS, UNK, MASK = 0, 1, 2, 3, 4
START_OF_TURN, END_OF_TURN, BOI, BOA = 5, 6, 7, 8
FIRST_BYTE = 9  # <0x00> .. <0xFF> at 9 .. 264 (byte fallback)
SPACE = FIRST_BYTE + 256  # "▁"
NEWLINE = FIRST_BYTE + 0x0A
TEXT_VOCAB = 320
# then the image and the audio tokens' blocks, each starting with its end token, as in the released vocabulary
EOI, IMAGE_TOKEN = TEXT_VOCAB, TEXT_VOCAB + 1
MEDIA_VOCAB = 8
EOA, AUDIO_TOKEN = TEXT_VOCAB + MEDIA_VOCAB, TEXT_VOCAB + MEDIA_VOCAB + 1
VOCAB_SIZE = TEXT_VOCAB + 2 * MEDIA_VOCAB
# never generated, never drawn as random prompt text: padding, <bos>, the media start tokens and the media blocks
# (their end tokens, placeholders and embedded media tokens); audio_prompt draws text from FIRST_BYTE on
SPECIAL_TOKENS = (PAD_TOKEN, BOS, BOI, BOA, *range(TEXT_VOCAB, VOCAB_SIZE))

TOKEN_TEXT = {
    PAD_TOKEN: "<pad>",
    EOS: "<eos>",
    BOS: "<bos>",
    UNK: "<unk>",
    MASK: "<mask>",
    START_OF_TURN: "<start_of_turn>",
    END_OF_TURN: "<end_of_turn>",
    BOI: "<start_of_image>",
    BOA: "<start_of_audio>",
    EOI: "<end_of_image>",
    IMAGE_TOKEN: "<image_soft_token>",
    EOA: "<end_of_audio>",
    AUDIO_TOKEN: "<audio_soft_token>",
}
# the tokenizer attributes Gemma3nProcessor reads (``tokenizer.audio_token``, ``tokenizer.boa_token``, ...)
_NAMED_TOKENS = {
    "audio_token": AUDIO_TOKEN,
    "boa_token": BOA,
    "eoa_token": EOA,
    "image_token": IMAGE_TOKEN,
    "boi_token": BOI,
    "eoi_token": EOI,
}

# Gemma 3n's chat format: <bos>, a system turn folded into the first user turn, "model" for the assistant, one
# <audio_soft_token> per audio item (the processor expands it to the clip's block), text items trimmed
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% if messages[0]['role'] == 'system' %}"
    "{% if messages[0]['content'] is string %}{% set first_user_prefix = messages[0]['content'] + '\n\n' %}"
    "{% else %}{% set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' %}{% endif %}"
    "{% set loop_messages = messages[1:] %}"
    "{% else %}{% set first_user_prefix = '' %}{% set loop_messages = messages %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "<start_of_turn>{{ role }}\n{{ first_user_prefix if loop.first else '' }}"
    "{% if message['content'] is string %}{{ message['content'] | trim }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'audio' %}<audio_soft_token>"
    "{% elif item['type'] == 'image' %}<image_soft_token>"
    "{% elif item['type'] == 'text' %}{{ item['text'] | trim }}"
    "{% endif %}{% endfor %}{% endif %}"
    "<end_of_turn>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)

__all__ = ["Prompt", "audio_prompt", "encode", "tiny_config", "tiny_model", "tiny_processor", "tiny_tokenizer", "tone"]


def tiny_config(
    num_layers: int = 4,
    num_kv_shared_layers: int = 0,
    sliding_window: int = 200,
    hidden_size: int = 64,
    num_heads: int = 4,
    num_kv_heads: int = 2,
) -> Gemma3nConfig:
    """A Gemma 3n config at toy widths: a one-block conformer audio tower (hidden 32, 128 mel bins) and a decoder of
    ``num_layers`` layers (head dim 16, AltUp over 4 streams, per-layer inputs of width 16) whose every fourth layer
    attends fully and the others within ``sliding_window`` positions (the released models: every fifth, 512), the
    last ``num_kv_shared_layers`` reusing earlier layers' keys and values, the first three with sparse activations.
    The decoder is initialised with a larger spread (0.1) than real models, so a random model's greedy output varies
    from token to token."""
    layer_types = ["full_attention" if (i + 1) % 4 == 0 else "sliding_attention" for i in range(num_layers)]
    return Gemma3nConfig(
        text_config=dict(
            vocab_size=VOCAB_SIZE,
            vocab_size_per_layer_input=TEXT_VOCAB,
            hidden_size=hidden_size,
            intermediate_size=2 * hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=num_heads,
            num_key_value_heads=num_kv_heads,
            head_dim=hidden_size // num_heads,
            hidden_size_per_layer_input=16,
            laurel_rank=8,
            sliding_window=sliding_window,
            layer_types=layer_types,
            num_kv_shared_layers=num_kv_shared_layers,
            activation_sparsity_pattern=[0.95 if i < 3 else 0.0 for i in range(num_layers)],
            pad_token_id=PAD_TOKEN,
            eos_token_id=EOS,
            bos_token_id=BOS,
            initializer_range=0.1,
        ),
        vision_config=dict(hidden_size=16, vocab_size=MEDIA_VOCAB, vocab_offset=TEXT_VOCAB),
        audio_config=dict(
            hidden_size=32,
            vocab_size=MEDIA_VOCAB,
            vocab_offset=TEXT_VOCAB + MEDIA_VOCAB,
            conf_num_hidden_layers=1,
            conf_num_attention_heads=2,
            sscp_conv_channel_size=[8, 4],
        ),
        audio_soft_tokens_per_image=AUDIO_TOKENS_PER_CLIP,
        boi_token_id=BOI,
        eoi_token_id=EOI,
        image_token_id=IMAGE_TOKEN,
        boa_token_id=BOA,
        eoa_token_id=EOA,
        audio_token_id=AUDIO_TOKEN,
    )


def tiny_model(attn_implementation: str = "sdpa", seed: int = 0, **config_kwargs) -> Gemma3nForConditionalGeneration:
    """A random-weight ``Gemma3nForConditionalGeneration`` (vision tower stood in), in eval mode.

    transformers initialises AltUp's output scale to zero, which multiplies every per-layer input by zero; here it is
    drawn at random like the other weights, so that the per-layer inputs reach the output as in a trained model."""
    config = tiny_config(**config_kwargs)
    torch.manual_seed(seed)
    with without_vision_tower():
        model = Gemma3nForConditionalGeneration._from_config(config, attn_implementation=attn_implementation)
    with torch.no_grad():
        for layer in model.model.language_model.layers:
            layer.altup.correct_output_scale.normal_(mean=1.0, std=0.5)
    model.generation_config.pad_token_id = PAD_TOKEN
    model.generation_config.suppress_tokens = list(SPECIAL_TOKENS)
    return model.eval()


def audio_prompt(clips: list[np.ndarray], text_lengths: list[int] | None = None, seed: int = 0) -> Prompt:
    """Random text tokens (bytes and ordinary tokens of the text vocabulary), then each clip, then more text:
    ``text0 clip0 text1 clip1 ... textN``."""
    rng = np.random.default_rng(seed)
    lengths = text_lengths or [5] * (len(clips) + 1)
    if len(lengths) != len(clips) + 1:
        raise ValueError(f"text_lengths needs {len(clips) + 1} entries for {len(clips)} clips, got {len(lengths)}")
    parts: list = []
    for i, n in enumerate(lengths):
        parts.append(rng.integers(FIRST_BYTE, TEXT_VOCAB, n).tolist())
        if i < len(clips):
            parts.append(clips[i])
    return Prompt(parts)


def audio_block() -> list[int]:
    """The ids the processor writes for one clip: ``\\n\\n<start_of_audio>``, the placeholders, ``<end_of_audio>\\n\\n``
    (each newline a byte token of the tiny tokenizer)."""
    return [NEWLINE, NEWLINE, BOA, *[AUDIO_TOKEN] * AUDIO_TOKENS_PER_CLIP, EOA, NEWLINE, NEWLINE]


def encode(prompts: list[Prompt], padding_side: str = "left") -> BatchFeature:
    """Model inputs for a batch: ``input_ids``, ``attention_mask``, and one row of ``input_features`` and
    ``input_features_mask`` per clip, as ``Gemma3nProcessor`` returns them. Clips over 30 s are refused (the
    processor would cut them)."""
    clips = [part for prompt in prompts for part in prompt.parts if isinstance(part, np.ndarray)]
    data = {}
    if clips:
        if max(c.size for c in clips) > CLIP_SAMPLES:
            raise ValueError(f"Gemma 3n takes clips of at most {CLIP_SAMPLES} samples (30 s)")
        features = Gemma3nAudioFeatureExtractor()(clips, return_tensors="pt")
        data = {"input_features": features["input_features"], "input_features_mask": features["input_features_mask"]}
    rows = []
    for prompt in prompts:
        ids: list[int] = []
        for part in prompt.parts:
            ids += audio_block() if isinstance(part, np.ndarray) else list(part)
        rows.append(ids)
    input_ids, attention_mask = padded_ids(rows, PAD_TOKEN, padding_side)
    return BatchFeature({"input_ids": input_ids, "attention_mask": attention_mask, **data})


def tiny_tokenizer() -> GemmaTokenizer:
    """Gemma 3n's tokenizer class over the tiny vocabulary: its special tokens at the tiny model's ids, one token per
        byte (byte fallback), ``▁`` and unused tokens filling the rest, no merges. Starts every text with ``<bos>``, as
    the released tokenizer does, and pads with ``<pad>`` on the left."""
    vocab = {text: i for i, text in TOKEN_TEXT.items()}
    vocab |= {f"<0x{b:02X}>": FIRST_BYTE + b for b in range(256)}
    vocab["▁"] = SPACE
    vocab |= {f"<unused{i}>": i for i in range(VOCAB_SIZE) if i not in vocab.values()}
    named = {name: TOKEN_TEXT[token_id] for name, token_id in _NAMED_TOKENS.items()}
    return GemmaTokenizer(
        vocab=vocab,
        merges=[],
        extra_special_tokens=[TOKEN_TEXT[START_OF_TURN], TOKEN_TEXT[END_OF_TURN]],
        add_bos_token=True,
        padding_side="left",
        chat_template=CHAT_TEMPLATE,
        **named,
    )


def tiny_processor() -> Gemma3nProcessor:
    """A real ``Gemma3nProcessor`` for the tiny models: ``tiny_tokenizer``, Gemma 3n's audio feature extractor (its
    defaults: 128 mel bins, 30 s), SigLIP's image processor, and the released 188 audio tokens per clip."""
    return Gemma3nProcessor(
        feature_extractor=Gemma3nAudioFeatureExtractor(),
        image_processor=SiglipImageProcessorPil(),
        tokenizer=tiny_tokenizer(),
        chat_template=CHAT_TEMPLATE,
        audio_seq_length=AUDIO_TOKENS_PER_CLIP,
    )
