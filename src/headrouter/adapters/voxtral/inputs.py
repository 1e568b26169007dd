"""Model inputs for (audio, prompt) pairs through ``VoxtralProcessor``, whose API differs from the other families'.

``VoxtralProcessor.__call__`` takes no audio: audio goes through ``apply_chat_template``, which hands the conversation
to mistral-common's tokenizer (``MistralCommonBackend``). mistral-common reads each audio item (as a URL, a path or
base64-encoded audio, never an array), pads it with zeros to a whole number of 30 s chunks and writes
``[BEGIN_AUDIO]`` then one ``[AUDIO]`` per audio token of the padded clip; the processor then extracts Whisper
features of each padded clip and cuts them into one ``input_features`` row per chunk. So the placeholders are laid
out by the tokenizer, never expanded by the model.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np


def build_inputs(
    processor,
    wavs: Sequence[np.ndarray],
    prompts: Sequence[str],
    *,
    sampling_rate: int,
    chunk_frames: int,
    system_prompt: str | None = None,
    truncate_audio: bool = False,
):
    """Left-padded model inputs for a batch of (audio, prompt): one conversation each, of an optional system message
    and a user turn of the audio then the prompt, through ``processor.apply_chat_template``. Clips longer than one
    chunk are kept whole (several chunks) unless ``truncate_audio``, which keeps each clip's first chunk.

    ``chunk_frames`` is the mel frames per chunk the model's encoder takes (``2 * max_source_positions``); the
    processor's feature extractor and its tokenizer's audio config must chunk alike, or the model would get other
    counts of features and placeholders. Each clip is sent as lossless 32-bit float WAV. mistral-common refuses a
    system message beside audio before its tokenizer version 13 (Voxtral's released tokenizers are older); its
    ``ValueError`` is passed on."""
    tokenizer = processor.tokenizer
    if type(tokenizer).__name__ != "MistralCommonBackend":
        raise TypeError(
            f"processor: Voxtral's processor must tokenize with MistralCommonBackend (the mistral-common package), "
            f"which writes the audio placeholders; got {type(tokenizer).__name__}. Load it with "
            "headrouter.adapters.load_processor or VoxtralProcessor.from_pretrained with mistral-common installed"
        )
    extractor = processor.feature_extractor
    window = int(extractor.n_samples)
    audio_config = tokenizer.tokenizer.instruct_tokenizer.audio_encoder.audio_config
    tokenizer_window = round(audio_config.chunk_length_s * audio_config.sampling_rate)
    if extractor.nb_max_frames != chunk_frames or tokenizer_window != window:
        raise ValueError(
            f"processor: its chunks ({extractor.nb_max_frames} mel frames in the feature extractor, {tokenizer_window}"
            f" samples in the tokenizer) do not match the model's encoder ({chunk_frames} mel frames)"
        )
    conversations = []
    for wav, prompt in zip(wavs, prompts, strict=True):
        clip = wav[:window] if truncate_audio else wav
        audio = {"type": "audio", "base64": _wav_base64(clip, sampling_rate)}
        conversation = [] if system_prompt is None else [{"role": "system", "content": system_prompt}]
        conversation.append({"role": "user", "content": [audio, {"type": "text", "text": prompt}]})
        conversations.append(conversation)
    # the processor's chunking defaults are the released checkpoints' (30 s); name the processor's own
    audio_kwargs = {"pad_to_multiple_of": window, "max_source_positions": int(extractor.nb_max_frames)}
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # apply_chat_template pads with the tokenizer's own side and takes none
    try:
        return processor.apply_chat_template(conversations, processor_kwargs={"audio_kwargs": audio_kwargs})
    finally:
        tokenizer.padding_side = padding_side


def _wav_base64(wav: np.ndarray, sampling_rate: int) -> str:
    """``wav`` as base64 of a 32-bit float WAV file: mistral-common reads audio from files, not arrays, and float
    keeps every sample exactly (its own ``Audio.to_base64`` writes 16-bit integers)."""
    import soundfile

    if wav.ndim != 1 or wav.size == 0:
        raise ValueError(f"wavs: each clip must be a non-empty 1-D array, got shape {wav.shape}")
    buffer = io.BytesIO()
    soundfile.write(buffer, np.asarray(wav, dtype=np.float32), sampling_rate, format="WAV", subtype="FLOAT")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
