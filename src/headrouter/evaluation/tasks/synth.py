"""Numpy sound synthesis for the task generator: noise colours, harmonic tones, chords, beeps, mixing, WAV I/O.

Every function takes its randomness from a ``numpy.random.Generator`` passed in, so a seeded generator gives
the same samples on every run. Audio is mono float32 at :data:`SAMPLE_RATE`.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
NOISE_COLOURS = ("white", "pink", "brown")
NOTE_NAMES = ("C", "D", "E", "F", "G", "A", "B")
NOTE_SEMITONES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
CHORD_INTERVALS = {"major": (0, 4, 7), "minor": (0, 3, 7)}


def rms(x: np.ndarray) -> float:
    """Root mean square, never zero."""
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) + 1e-12


def noise(colour: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of white, pink (1/f power) or brown (1/f^2 power) noise at unit RMS."""
    if colour not in NOISE_COLOURS:
        raise ValueError(f"colour must be one of {NOISE_COLOURS}, got {colour!r}")
    white = rng.standard_normal(n)
    if colour == "white" or n < 2:
        return (white / rms(white)).astype(np.float32)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    freqs[0] = freqs[1]
    shaped = spectrum / (np.sqrt(freqs) if colour == "pink" else freqs)
    shaped[0] = 0.0  # no DC offset
    out = np.fft.irfft(shaped, n)
    return (out / rms(out)).astype(np.float32)


def midi_frequency(midi: float) -> float:
    """Frequency in Hz of a MIDI note number (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((midi - 69) / 12)


def envelope(n: int, attack: float = 0.01, release: float = 0.05) -> np.ndarray:
    """A linear attack/release envelope over ``n`` samples (times in seconds)."""
    env = np.ones(n, dtype=np.float64)
    a, r = min(int(attack * SAMPLE_RATE), n // 2), min(int(release * SAMPLE_RATE), n // 2)
    if a:
        env[:a] = np.linspace(0.0, 1.0, a, endpoint=False)
    if r:
        env[n - r :] = np.linspace(1.0, 0.0, r)
    return env


def harmonic_tone(frequency: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A tone with a random timbre (3-6 harmonics with decaying weights, optional decay), unit RMS.

    At least three harmonics: Whisper features resolve 40 Hz (a 25 ms window), and a semitone near 260 Hz is
    15 Hz, so a pure sine's note or a chord's third would be barely audible to the model; from the third
    harmonic up a semitone spans 45 Hz or more."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    harmonics = int(rng.integers(3, 7))
    rolloff = rng.uniform(0.5, 0.9)
    phase = rng.uniform(0, 2 * np.pi, harmonics)
    out = np.zeros(n)
    for h in range(1, harmonics + 1):
        if frequency * h < SAMPLE_RATE / 2 - 500:
            out += rolloff ** (h - 1) * np.sin(2 * np.pi * frequency * h * t + phase[h - 1])
    decay = rng.uniform(0.0, 1.5) / max(seconds, 1e-3)
    out *= np.exp(-decay * t) * envelope(n)
    return (out / rms(out)).astype(np.float32)


def chord(root_midi: int, quality: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A major or minor triad in root position on ``root_midi``, unit RMS."""
    parts = [harmonic_tone(midi_frequency(root_midi + i), seconds, rng) for i in CHORD_INTERVALS[quality]]
    out = np.sum(parts, axis=0)
    return (out / rms(out)).astype(np.float32)


def beeps(count: int, frequency: float, length: float, gap: float) -> np.ndarray:
    """``count`` sine beeps of ``length`` seconds separated by ``gap`` seconds of silence, peak 1."""
    n, g = int(length * SAMPLE_RATE), int(gap * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    beep = np.sin(2 * np.pi * frequency * t) * envelope(n, 0.005, 0.01)
    out = np.zeros(count * n + (count - 1) * g)
    for i in range(count):
        out[i * (n + g) : i * (n + g) + n] = beep
    return out.astype(np.float32)


def place(background: np.ndarray, sound: np.ndarray, start: int, gain: float) -> None:
    """Add ``gain * sound`` into ``background`` at sample ``start`` (in place, cut at the end)."""
    end = min(background.size, start + sound.size)
    background[start:end] += gain * sound[: end - start]


def to_int16(x: np.ndarray) -> np.ndarray:
    """Peak-limit to [-1, 1) and quantise to 16-bit PCM."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > 0.99:
        x = x * (0.99 / peak)
    return np.round(x * 32767.0).astype(np.int16)


def quantize(x: np.ndarray) -> np.ndarray:
    """The float32 audio a 16-bit WAV of ``x`` decodes to: what the model hears from the written file."""
    return (to_int16(x).astype(np.float32) / 32768.0).astype(np.float32)


def wav_bytes(x: np.ndarray) -> bytes:
    """A mono 16-bit 16 kHz WAV file of ``x`` (byte-identical for identical input)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(to_int16(x).tobytes())
    return buffer.getvalue()


def write_wav(path: str | Path, x: np.ndarray) -> None:
    """Write ``x`` as a mono 16-bit 16 kHz WAV file."""
    Path(path).write_bytes(wav_bytes(x))


def read_wav(path: str | Path) -> np.ndarray:
    """A mono 16-bit WAV file as float32 in [-1, 1) (no resampling: the generator writes 16 kHz)."""
    with wave.open(str(path), "rb") as f:
        if f.getsampwidth() != 2 or f.getnchannels() != 1:
            raise ValueError(f"{path}: expected mono 16-bit PCM")
        data = np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16)
    return (data.astype(np.float32) / 32768.0).astype(np.float32)
