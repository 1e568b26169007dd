"""The one audio loader: what it returns, and a ValueError naming the clip and the reason for every unusable one."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from headrouter.audio import load_audio, require_audio_tokens


def header_only_wav(path):
    """A valid WAV header and zero frames."""
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(16000)
        f.writeframes(b"")
    return path


def test_a_file_is_decoded_to_mono_float32_at_the_rate_asked(tmp_path):
    stereo = np.stack([np.full(8000, 0.25), np.full(8000, -0.25)], axis=1)  # (frames, channels) at 8 kHz
    soundfile.write(tmp_path / "stereo.wav", stereo, 8000, subtype="FLOAT")
    wav = load_audio(tmp_path / "stereo.wav", 16000)
    assert wav.dtype == np.float32 and wav.shape == (16000,)  # 1 s, resampled to 16 kHz
    assert np.abs(wav).max() < 1e-3  # the channels cancel: averaged to mono


def test_an_array_is_resampled_from_its_own_rate():
    wav = load_audio(np.ones(8000, dtype=np.float64), 16000, source_rate=8000)
    assert wav.dtype == np.float32 and wav.shape == (16000,)
    same = np.arange(5, dtype=np.float32)
    assert np.array_equal(load_audio(same, 16000, source_rate=16000), same)


def unusable_file(kind: str, root: Path) -> Path:
    """A path that names no usable audio file, written here (nothing downloaded)."""
    path = root / f"{kind}.wav"
    if kind == "directory":
        return root
    if kind == "zero-bytes":
        path.write_bytes(b"")
    elif kind == "header-only":
        header_only_wav(path)
    elif kind == "text":
        path.write_text("not audio at all")
    elif kind == "truncated":
        soundfile.write(path, np.zeros(1600, dtype=np.float32), 16000)
        path.write_bytes(path.read_bytes()[:30])  # half a header
    return path


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing", "no such file"),
        ("directory", "not a file"),
        ("zero-bytes", "the file is empty (0 bytes)"),
        ("header-only", "the file holds no audio samples (a header and no data)"),
    ],
)
def test_unusable_files_name_the_path_and_the_reason(tmp_path, kind, reason):
    path = unusable_file(kind, tmp_path)
    with pytest.raises(ValueError) as error:
        load_audio(path, 16000)
    assert str(error.value) == f"cannot load audio {path}: {reason}"


@pytest.mark.parametrize("kind", ["text", "truncated"])
def test_undecodable_files_say_why_even_where_the_decoder_does_not(tmp_path, kind):
    path = unusable_file(kind, tmp_path)
    with pytest.raises(ValueError) as error:
        load_audio(path, 16000)
    message = str(error.value)
    prefix = f"cannot load audio {path}: not a readable audio file ("
    assert message.startswith(prefix) and message.endswith(")")
    name, _, reason = message[len(prefix) : -1].partition(": ")
    assert name.isidentifier() and reason.strip()  # the decoder's error type and a reason, never a bare "EOFError: "


@pytest.mark.parametrize(
    ("array", "rate", "reason"),
    [
        (np.zeros(0, dtype=np.float32), 16000, "the array holds no audio samples"),
        (np.zeros((2, 100), dtype=np.float32), 16000, "expected a 1-D (mono) array"),
        (np.zeros(100, dtype=np.float32), None, "an array needs its sampling rate (source_rate)"),
    ],
)
def test_unusable_arrays_say_why(array, rate, reason):
    with pytest.raises(ValueError) as error:
        load_audio(array, 16000, source_rate=rate)
    assert str(error.value) == f"audio array of shape {array.shape}: {reason}"


def test_no_audio_tokens_is_an_error():
    ids = torch.tensor([[1, 7, 7, 2]])
    require_audio_tokens(ids == 7, 1.0)  # two audio tokens: fine
    with pytest.raises(ValueError, match=r"^0\.006 s of audio make 0 audio tokens: the clip is too short"):
        require_audio_tokens(ids == 9, 0.00625)
