"""The one audio loader of calibration, evaluation and the demo: a path or an array in, mono float32 out.

Every clip that cannot be used fails here with a ``ValueError`` that names the clip and the reason (a missing
file, an empty one, one no decoder reads, a header without samples, an empty array), so that callers can report
it and skip the clip instead of failing later inside the model with an error about tensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

_BLANK_ERRORS = {
    "EOFError": "the data ends before the decoder expected it to",
    "NoBackendError": "no installed decoder recognises the format",
}
"""Reasons for decoder errors that carry no message of their own."""


def load_audio(audio: str | Path | np.ndarray, sampling_rate: int, *, source_rate: int | None = None) -> np.ndarray:
    """Mono float32 audio at ``sampling_rate``: a file decoded and resampled by librosa, or a 1-D array recorded at
    ``source_rate`` (required for arrays) and resampled by librosa.

    ``ValueError`` naming the file (or the array) and the reason, for: a missing file, an empty (0-byte) file, a
    file no decoder reads (soundfile's and audioread's errors, EOFError included), a file with no samples, an
    array without its ``source_rate``, an array that is not 1-D, and an array with no samples.
    """
    import librosa

    if isinstance(audio, np.ndarray):
        return _from_array(audio, sampling_rate, source_rate)
    path = Path(audio)
    if not path.is_file():
        raise ValueError(f"cannot load audio {path}: {'not a file' if path.exists() else 'no such file'}")
    if path.stat().st_size == 0:
        raise ValueError(f"cannot load audio {path}: the file is empty (0 bytes)")
    try:
        wav, _ = librosa.load(str(path), sr=sampling_rate, mono=True)
    except Exception as error:  # soundfile, audioread and their backends raise many unrelated types
        raise ValueError(f"cannot load audio {path}: not a readable audio file ({_describe(error)})") from error
    if wav.size == 0:
        raise ValueError(f"cannot load audio {path}: the file holds no audio samples (a header and no data)")
    return wav.astype(np.float32, copy=False)


def _from_array(audio: np.ndarray, sampling_rate: int, source_rate: int | None) -> np.ndarray:
    import librosa

    what = f"audio array of shape {audio.shape}"
    if source_rate is None:
        raise ValueError(f"{what}: an array needs its sampling rate (source_rate)")
    if audio.ndim != 1:
        raise ValueError(f"{what}: expected a 1-D (mono) array")
    if audio.size == 0:
        raise ValueError(f"{what}: the array holds no audio samples")
    wav = np.asarray(audio, dtype=np.float32)
    if source_rate != sampling_rate:
        wav = librosa.resample(wav, orig_sr=source_rate, target_sr=sampling_rate)
    return wav


def _describe(error: BaseException) -> str:
    """``Type: message``, with a stated reason where the decoder gave no message."""
    name = type(error).__name__
    return f"{name}: {str(error) or _BLANK_ERRORS.get(name, 'no message')}"


def require_audio_tokens(audio_mask: torch.Tensor, seconds: float) -> None:
    """``ValueError`` if the processor turned a clip of ``seconds`` into no audio tokens (``audio_mask``, the model's
    audio positions, is all False): too short for the model's audio tokenizer (about 25 ms for Qwen2.5-Omni's), it
    would be scored with no audio at all."""
    if not bool(audio_mask.any()):
        raise ValueError(
            f"{seconds:.3f} s of audio make 0 audio tokens: the clip is too short for the model's audio tokenizer"
        )
