"""Speech from espeak-ng (Debian package ``espeak-ng``), resampled to 16 kHz.

espeak-ng is deterministic for fixed text, voice, rate and pitch, so the generator's speech is reproducible.
Calls are cached per argument tuple: the generator asks for the same few words many times.
"""

from __future__ import annotations

import functools
import shutil
import subprocess

import numpy as np

ESPEAK = "espeak-ng"
ACCENTS = ("en-us", "en-gb", "en-gb-x-rp")
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7")
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5")


def espeak_available() -> bool:
    """Whether the ``espeak-ng`` program is on PATH."""
    return shutil.which(ESPEAK) is not None


@functools.lru_cache(maxsize=4096)
def _speak(text: str, voice: str, rate: int, pitch: int) -> np.ndarray:
    from scipy.signal import resample_poly  # loads in 0.5-1 s: imported where speech is made, not with the CLI

    if not espeak_available():
        raise RuntimeError("espeak-ng is not installed (Debian/Ubuntu: apt-get install espeak-ng)")
    result = subprocess.run(
        [ESPEAK, "-v", voice, "-s", str(rate), "-p", str(pitch), "--stdout", text],
        capture_output=True,
        check=True,
    )
    raw = result.stdout
    data = raw.find(b"data")
    if not raw.startswith(b"RIFF") or data < 0:
        raise RuntimeError(f"espeak-ng gave no WAV output for {text!r} with voice {voice!r}")
    pcm = np.frombuffer(raw[data + 8 :], dtype=np.int16).astype(np.float64) / 32768.0
    audio = resample_poly(pcm, 320, 441)  # 22,050 Hz -> 16,000 Hz
    nonzero = np.flatnonzero(np.abs(audio) > 1e-3)
    if nonzero.size:
        audio = audio[nonzero[0] : nonzero[-1] + 1]  # trim leading and trailing silence
    peak = float(np.max(np.abs(audio))) or 1.0
    audio = (audio / peak).astype(np.float32)
    audio.setflags(write=False)
    return audio


def speak(text: str, voice: str = "en-us+m3", rate: int = 160, pitch: int = 50) -> np.ndarray:
    """``text`` spoken by espeak-ng: 16 kHz float32, silence trimmed, peak 1 (a read-only cached array).

    ``voice`` is ``ACCENT+VARIANT`` (e.g. ``en-gb+f2``); ``rate`` in words per minute; ``pitch`` 0-99.
    """

    return _speak(text, voice, int(rate), int(pitch))


def voice_name(accent: str, variant: str) -> str:
    """An espeak-ng voice name: accent plus voice variant."""
    return f"{accent}+{variant}"
