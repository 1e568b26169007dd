"""The layers every generated clip is built on, shared by the short and the long task family.

A background of noise (random colour and level), babble of reversed speech that sounds like speech but never
says a keyword or digit, and a random espeak-ng voice. Each draws from the caller's ``numpy`` generator in a
fixed order, so a task's items stay byte-identical for a seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from headrouter.evaluation.tasks import speech, synth

BABBLE_WORDS = ("morning", "table", "orange", "silver", "basket", "thunder", "coffee", "little", "paper", "summer")
# a small fixed pool of voices, so that long clips reuse cached speech
BABBLE_VOICES = ("en-us+m1", "en-us+f2", "en-gb+m4", "en-gb+f4", "en-gb-x-rp+m6", "en-us+f5")


def random_voice(rng: np.random.Generator, variants: Sequence[str] | None = None) -> tuple[str, int, int]:
    """An espeak-ng voice (random accent, one of ``variants``, default every male and female variant), a rate
    of 120-199 words per minute and a pitch of 30-70: the arguments after the text of ``speech.speak``."""
    variants = variants or speech.MALE_VARIANTS + speech.FEMALE_VARIANTS
    accent = speech.ACCENTS[int(rng.integers(len(speech.ACCENTS)))]
    variant = variants[int(rng.integers(len(variants)))]
    return speech.voice_name(accent, variant), int(rng.integers(120, 200)), int(rng.integers(30, 71))


def background(rng: np.random.Generator, n: int, level: float | None = None) -> np.ndarray:
    """``n`` samples of white, pink or brown noise at amplitude ``level`` (default random in 0.005-0.04)."""
    colour = synth.NOISE_COLOURS[int(rng.integers(3))]
    level = rng.uniform(0.005, 0.04) if level is None else level
    return synth.noise(colour, n, rng) * level


def babble(rng: np.random.Generator, n: int, level: float) -> np.ndarray:
    """``n`` samples of reversed espeak words at random times, about two per second, at RMS ``level``."""
    out = np.zeros(n, dtype=np.float32)
    for _ in range(max(1, int(2 * n / synth.SAMPLE_RATE))):
        word = BABBLE_WORDS[int(rng.integers(len(BABBLE_WORDS)))]
        voice = BABBLE_VOICES[int(rng.integers(len(BABBLE_VOICES)))]
        sound = speech.speak(word, voice, 170, 50)[::-1]
        start = int(rng.integers(0, max(1, n - sound.size)))
        synth.place(out, sound, start, float(rng.uniform(0.5, 1.0)))
    return out * (level / synth.rms(out))
