"""Model inputs for (audio, prompt) pairs through the processor's own chat template: one definition for
calibration, evaluation, the demo and the training script, so that all of them send the model the same thing.

It names no model: any family whose processor takes ``{"type": "audio"}`` content in its chat template and audio
through ``processor(text=..., audio=...)`` with a Whisper-style feature extractor uses it as its
:meth:`~headrouter.adapters.ModelAdapter.build_inputs` (the default); a family whose processor differs overrides
that."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def build_inputs(
    processor,
    wavs: Sequence[np.ndarray],
    prompts: Sequence[str],
    *,
    system_prompt: str | None = None,
    truncate_audio: bool = False,
):
    """Left-padded model inputs for a batch of (audio, prompt), each through the processor's chat template.

    The conversation is an optional system turn, then a user turn of the audio and the prompt. Unlike the
    processor's default, audio longer than the feature extractor's ``chunk_length`` (30 s for Whisper's) is kept
    whole unless ``truncate_audio``.
    """
    texts = []
    for wav, prompt in zip(wavs, prompts, strict=True):
        conversation = (
            [] if system_prompt is None else [{"role": "system", "content": [{"type": "text", "text": system_prompt}]}]
        )
        conversation.append(
            {"role": "user", "content": [{"type": "audio", "audio": wav}, {"type": "text", "text": prompt}]}
        )
        texts.append(processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False))
    audio_kwargs = {} if truncate_audio else {"truncation": False, "max_length": max(w.size for w in wavs)}
    extractor = processor.feature_extractor
    if not truncate_audio and audio_kwargs["max_length"] <= extractor.n_samples:
        audio_kwargs = {}  # the default already keeps it all: identical to a plain processor call
    return processor(
        text=texts,
        audio=list(wavs),
        return_tensors="pt",
        padding=True,
        text_kwargs={"padding_side": "left"},
        audio_kwargs=audio_kwargs,
    )


def processor_inputs(
    processor, wav: np.ndarray, prompt: str, system_prompt: str | None = None, *, truncate_audio: bool = False
):
    """Model inputs for one audio + prompt (:func:`build_inputs` for a batch of one)."""
    return build_inputs(processor, [wav], [prompt], system_prompt=system_prompt, truncate_audio=truncate_audio)
