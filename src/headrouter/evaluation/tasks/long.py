"""The long-clip task family: questions about where things are in 30 s to several minutes of audio.

The short family (:mod:`headrouter.evaluation.tasks.generator`) asks for one global property of one short sound,
so a pruning method that keeps any tenth of the tokens keeps the answer. Here the answer sits in one or a few
seconds of a long scene, and which seconds are kept decides it (as in AudioMarathon's 90-300 s items).

Acoustic: ``hidden_event`` (which of four synthetic events -- dog-like bark, siren sweep, glass-like click train,
bell -- is hidden in a long noise scene), ``event_count`` (how many times one event occurs, spread over the clip),
``event_order`` (which of two events comes first), ``note_at_time`` (which note of a melody plays at a stated
moment, "at 1:12"). Semantic (espeak-ng speech over noise and babble of reversed words): ``long_keyword_needle``
(which keyword is said once), ``long_digit_string`` (transcribe four digits said once, WER),
``word_speaker`` (a man and a woman each say a few words: who says the given one).

Every item records where its content lies in ``extra["events"]`` (label, start and end in seconds; for speech also
the espeak voice, rate and pitch), so its answer can be checked against the signal and a method's kept tokens
against the places that matter. Each example draws from its own generator seeded by ``(seed, 1000 + task number,
index)``, a stream apart from the short family's: the same seed gives byte-identical items and WAVs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from headrouter.evaluation.tasks import scenes, speech, synth
from headrouter.evaluation.tasks.generator import (
    DIGIT_WORDS,
    KEYWORDS,
    Example,
    checked_tasks,
    write_examples,
)
from headrouter.evaluation.tasks.items import Item

SR = synth.SAMPLE_RATE
DEFAULT_MIN_SECONDS = 60.0
DEFAULT_MAX_SECONDS = 120.0
SHORTEST_SECONDS = 30.0
"""The shortest clip the family allows: room for six events two seconds apart, or eight spoken words."""

EVENT_KINDS = ("bark", "siren", "bell", "clicks")
EVENT_PHRASES = {"bark": "dog bark", "siren": "siren", "bell": "bell", "clicks": "burst of clicks"}
EVENT_BANDS = {"bark": (200.0, 650.0), "bell": (650.0, 1100.0), "siren": (1150.0, 2300.0), "clicks": (3000.0, 6000.0)}
"""Where each event's strongest spectral peak lies (Hz): the four kinds never share it."""
COUNT_CHOICES = ("1", "2", "3", "4", "5", "6")
SPEAKER_CHOICES = ("man", "woman")
EDGE_SECONDS = 1.0  # no content in the first and last second


@dataclass(frozen=True)
class Scene:
    """A long task's made clip: its answer, its question, the float audio and where the content lies."""

    answer: str
    question: str
    audio: np.ndarray
    events: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class LongTaskSpec:
    """A long task: name, family, metric, choices (None for a short answer) and ``make(rng, n) -> Scene``."""

    name: str
    task_type: str
    metric: str
    choices: tuple[str, ...] | None
    make: Callable[[np.random.Generator, int], Scene]


def event_sound(kind: str, rng: np.random.Generator) -> np.ndarray:
    """A short synthetic event, peak 1: ``bark`` (2-3 harmonic yelps of 0.12-0.2 s falling from 1.3 x f0, f0
    250-400 Hz, with a little noise), ``siren`` (a 1.2-2 s tone sweeping between ~1.3 and ~2 kHz), ``bell``
    (1-1.8 s of decaying inharmonic partials 1 : 2.76 : 5.40 on 720-1000 Hz) or ``clicks`` (8-14 ringing 3.5-5.5 kHz
    clicks 30-80 ms apart). Their strongest peaks lie in the disjoint :data:`EVENT_BANDS`."""
    if kind == "bark":
        f0, parts = rng.uniform(250, 400), []
        for _ in range(int(rng.integers(2, 4))):
            n = int(rng.uniform(0.12, 0.2) * SR)
            frequency = f0 * (1.3 - 0.3 * np.arange(n) / n)
            phase = 2 * np.pi * np.cumsum(frequency) / SR
            yelp = sum(0.5 ** (h - 1) * np.sin(h * phase) for h in range(1, 6)) + 0.15 * rng.standard_normal(n)
            parts += [yelp * synth.envelope(n, 0.01, 0.06), np.zeros(int(rng.uniform(0.12, 0.25) * SR))]
        out = np.concatenate(parts[:-1])
    elif kind == "siren":
        low, high, period = rng.uniform(1250, 1450), rng.uniform(1800, 2150), rng.uniform(0.5, 0.9)
        t = np.arange(int(rng.uniform(1.2, 2.0) * SR)) / SR
        frequency = low + (high - low) * (0.5 - 0.5 * np.cos(2 * np.pi * t / period))
        phase = 2 * np.pi * np.cumsum(frequency) / SR
        out = (np.sin(phase) + 0.3 * np.sin(2 * phase)) * synth.envelope(t.size, 0.03, 0.1)
    elif kind == "bell":
        f, t = rng.uniform(720, 1000), np.arange(int(rng.uniform(1.0, 1.8) * SR)) / SR
        partials = ((1.0, 1.0, 2.5), (2.76, 0.5, 4.0), (5.40, 0.25, 6.0))  # (ratio, amplitude, decay per second)
        out = sum(
            a * np.exp(-d * t) * np.sin(2 * np.pi * f * r * t + rng.uniform(0, 2 * np.pi)) for r, a, d in partials
        )
        out = out * synth.envelope(t.size, 0.002, 0.05)
    elif kind == "clicks":
        centre, count = rng.uniform(3500, 5500), int(rng.integers(8, 15))
        gaps = (rng.uniform(0.03, 0.08, count - 1) * SR).astype(int)
        starts = np.concatenate([[0], np.cumsum(gaps)])
        t = np.arange(int(0.02 * SR)) / SR
        out = np.zeros(starts[-1] + t.size)
        for start in starts:
            ring = np.exp(-t / 0.005) * np.sin(2 * np.pi * centre * rng.uniform(0.97, 1.03) * t)
            out[start : start + t.size] += ring
    else:
        raise ValueError(f"kind must be one of {EVENT_KINDS}, got {kind!r}")
    return (out / np.max(np.abs(out))).astype(np.float32)


def _spread(rng: np.random.Generator, lengths: Sequence[int], n: int, gap: float) -> list[int]:
    """Start samples for sounds of ``lengths`` (in this order) at random places in ``n`` samples, at least ``gap``
    seconds apart and :data:`EDGE_SECONDS` from the ends; ``ValueError`` when they cannot fit."""
    edge, gap_n = int(EDGE_SECONDS * SR), int(gap * SR)
    free = n - 2 * edge - sum(lengths) - (len(lengths) - 1) * gap_n
    if free < 0:
        raise ValueError(f"{len(lengths)} sounds {gap:g} s apart do not fit in {n / SR:g} s")
    points = np.sort(rng.integers(0, free + 1, len(lengths)))
    before = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return [int(edge + p + b + i * gap_n) for i, (p, b) in enumerate(zip(points, before, strict=True))]


def _mix(
    rng: np.random.Generator,
    background: np.ndarray,
    sounds: Sequence[np.ndarray],
    starts: Sequence[int],
    snr: tuple[float, float],
) -> None:
    """Add each sound at its start, at an SNR (dB, drawn from ``snr``) over the background's RMS measured on the
    sound's active samples (as the short family does), gain at most 0.9."""
    level = synth.rms(background)
    for sound, start in zip(sounds, starts, strict=True):
        gain = level * 10 ** (rng.uniform(*snr) / 20) / synth.rms(sound[np.abs(sound) > 0.05])
        synth.place(background, sound, start, min(gain, 0.9))


def _event(label: str, start: int, sound: np.ndarray, **details) -> dict:
    return {"label": label, "start": round(start / SR, 3), "end": round((start + sound.size) / SR, 3), **details}


def _events_scene(rng: np.random.Generator, n: int, kinds: Sequence[str], gap: float) -> tuple[np.ndarray, list[dict]]:
    sounds = [event_sound(kind, rng) for kind in kinds]
    starts = _spread(rng, [s.size for s in sounds], n, gap)
    audio = scenes.background(rng, n)
    _mix(rng, audio, sounds, starts, (8.0, 18.0))
    return audio, [_event(k, start, s) for k, start, s in zip(kinds, starts, sounds, strict=True)]


def _hidden_event(rng: np.random.Generator, n: int) -> Scene:
    kind = EVENT_KINDS[int(rng.integers(len(EVENT_KINDS)))]
    audio, events = _events_scene(rng, n, [kind], 0.0)
    question = "A short sound is hidden somewhere in this recording. Which sound is it?"
    return Scene(kind, question, audio, events)


def _event_count(rng: np.random.Generator, n: int) -> Scene:
    kind = EVENT_KINDS[int(rng.integers(len(EVENT_KINDS)))]
    count = int(rng.integers(1, len(COUNT_CHOICES) + 1))
    audio, events = _events_scene(rng, n, [kind] * count, 2.0)
    return Scene(str(count), f"How many times do you hear a {EVENT_PHRASES[kind]} in this recording?", audio, events)


def _event_order(rng: np.random.Generator, n: int) -> Scene:
    pair = sorted(rng.choice(len(EVENT_KINDS), 2, replace=False).tolist())
    first, second = (EVENT_KINDS[i] for i in (pair if rng.random() < 0.5 else pair[::-1]))
    audio, events = _events_scene(rng, n, [first, second], 5.0)
    a, b = (EVENT_KINDS[i] for i in pair)  # the question names them in a fixed order, not the order they play
    question = f"Which comes first in this recording: the {EVENT_PHRASES[a]} or the {EVENT_PHRASES[b]}?"
    return Scene(first, question, audio, events)


def clock(seconds: int) -> str:
    """``m:ss`` for whole seconds (72 -> ``1:12``)."""
    return f"{seconds // 60}:{seconds % 60:02d}"


def _note_at_time(rng: np.random.Generator, n: int) -> Scene:
    """A melody of 2.3-4.5 s notes (octave 4, each unlike the one before) over the clip; the question names a whole
    second at least 0.6 s inside one note."""
    audio, events, start, previous = np.zeros(n, dtype=np.float32), [], int(rng.uniform(0.5, 2.0) * SR), None
    while True:
        name = str(rng.choice([m for m in synth.NOTE_NAMES if m != previous]))
        tone = synth.harmonic_tone(synth.midi_frequency(60 + synth.NOTE_SEMITONES[name]), rng.uniform(2.3, 4.5), rng)
        if start + tone.size > n - int(0.5 * SR):
            break
        synth.place(audio, tone, start, float(rng.uniform(0.5, 1.0)))
        events.append(_event(name, start, tone))
        start, previous = start + tone.size + int(rng.uniform(0.2, 0.8) * SR), name
    target = events[int(rng.integers(len(events)))]
    moments = np.arange(np.ceil(target["start"] + 0.6), np.floor(target["end"] - 0.6) + 1).astype(int)
    target["moment"] = moment = int(moments[int(rng.integers(moments.size))])
    background = scenes.background(rng, n)
    audio = audio * (synth.rms(background) * 10 ** (rng.uniform(8.0, 20.0) / 20) / synth.rms(audio)) + background
    return Scene(target["label"], f"Which note is playing at {clock(moment)}?", audio, events)


def _speech_background(rng: np.random.Generator, n: int) -> np.ndarray:
    return scenes.background(rng, n) + scenes.babble(rng, n, float(rng.uniform(0.02, 0.06)))


def _spoken(rng: np.random.Generator, text: str, variants: Sequence[str] | None = None) -> tuple[np.ndarray, dict]:
    voice, rate, pitch = scenes.random_voice(rng, variants)
    return speech.speak(text, voice, rate, pitch), {"voice": voice, "rate": rate, "pitch": pitch}


def _speech_scene(rng: np.random.Generator, n: int, said: Sequence[tuple[str, np.ndarray, dict]]) -> tuple:
    """Babble scene with each ``(label, audio, details)`` said once at a random place, 1.5 s or more apart."""
    audio = _speech_background(rng, n)
    starts = _spread(rng, [s.size for _, s, _ in said], n, 1.5)
    _mix(rng, audio, [s for _, s, _ in said], starts, (6.0, 18.0))
    return audio, [_event(label, start, s, **d) for (label, s, d), start in zip(said, starts, strict=True)]


def _long_keyword_needle(rng: np.random.Generator, n: int) -> Scene:
    word = KEYWORDS[int(rng.integers(len(KEYWORDS)))]
    audio, events = _speech_scene(rng, n, [(word, *_spoken(rng, word))])
    question = "One keyword is spoken somewhere in this recording. Which keyword is it?"
    return Scene(word, question, audio, events)


def _long_digit_string(rng: np.random.Generator, n: int) -> Scene:
    digits = rng.integers(10, size=4).tolist()
    text = ", ".join(DIGIT_WORDS[d] for d in digits)
    answer = " ".join(str(d) for d in digits)
    audio, events = _speech_scene(rng, n, [(answer, *_spoken(rng, text))])
    question = "Somewhere in this recording someone says four digits. Transcribe them, separated by spaces."
    return Scene(answer, question, audio, events)


def _word_speaker(rng: np.random.Generator, n: int) -> Scene:
    """A man and a woman say 2-4 distinct words each (keywords and digit words) in random order over the clip."""
    words = list(KEYWORDS + DIGIT_WORDS)
    counts = rng.integers(2, 5, size=2)
    chosen = [words[i] for i in rng.choice(len(words), int(counts.sum()), replace=False)]
    voices = []
    for variants in (speech.MALE_VARIANTS, speech.FEMALE_VARIANTS):
        voice, rate, _ = scenes.random_voice(rng, variants)
        voices.append({"voice": voice, "rate": rate, "pitch": int(rng.integers(40, 61))})
    said = []
    for i, word in enumerate(chosen):
        speaker = int(i >= counts[0])
        details = {**voices[speaker], "speaker": SPEAKER_CHOICES[speaker]}
        said.append((word, speech.speak(word, details["voice"], details["rate"], details["pitch"]), details))
    order = rng.permutation(len(said))
    audio, events = _speech_scene(rng, n, [said[i] for i in order])
    target = events[int(rng.integers(len(events)))]
    question = f"A man and a woman each say a few words in this recording. Who says the word '{target['label']}'?"
    return Scene(target["speaker"], question, audio, events)


LONG_TASKS: dict[str, LongTaskSpec] = {
    spec.name: spec
    for spec in (
        LongTaskSpec("hidden_event", "acoustic", "choice", EVENT_KINDS, _hidden_event),
        LongTaskSpec("event_count", "acoustic", "choice", COUNT_CHOICES, _event_count),
        LongTaskSpec("event_order", "acoustic", "choice", None, _event_order),
        LongTaskSpec("note_at_time", "acoustic", "choice", synth.NOTE_NAMES, _note_at_time),
        LongTaskSpec("long_keyword_needle", "semantic", "choice", KEYWORDS, _long_keyword_needle),
        LongTaskSpec("long_digit_string", "semantic", "wer", None, _long_digit_string),
        LongTaskSpec("word_speaker", "semantic", "choice", SPEAKER_CHOICES, _word_speaker),
    )
}
"""The long family's tasks (``event_order``'s two choices are the item's own pair of events)."""
LONG_SPEECH_TASKS = ("long_keyword_needle", "long_digit_string", "word_speaker")


def _check_seconds(min_seconds: float, max_seconds: float) -> None:
    if not SHORTEST_SECONDS <= min_seconds < float("inf"):
        raise ValueError(f"min_seconds must be at least {SHORTEST_SECONDS:g}, got {min_seconds:g}")
    if not min_seconds <= max_seconds < float("inf"):
        raise ValueError(f"max_seconds must be at least min_seconds ({min_seconds:g}), got {max_seconds:g}")


def make_long_example(
    task: str,
    index: int,
    seed: int = 0,
    min_seconds: float = DEFAULT_MIN_SECONDS,
    max_seconds: float = DEFAULT_MAX_SECONDS,
) -> Example:
    """Example ``index`` of long ``task`` for ``seed``: a clip of uniform length in [``min_seconds``,
    ``max_seconds``] (audio path ``clips/<id>.wav``, 16 kHz, already quantised to 16-bit) and its item, whose
    ``extra`` holds ``seconds`` and ``events`` (where the content lies)."""
    if task not in LONG_TASKS:
        raise ValueError(f"task must be one of {list(LONG_TASKS)}, got {task!r}")
    _check_seconds(min_seconds, max_seconds)
    spec = LONG_TASKS[task]
    rng = np.random.default_rng([seed, 1000 + list(LONG_TASKS).index(task), index])
    n = int(rng.uniform(min_seconds, max_seconds) * SR)
    scene = spec.make(rng, n)
    choices = spec.choices or (None if spec.metric == "wer" else [e["label"] for e in sorted(scene.events, key=_kind)])
    item_id = f"{task}-{index:06d}"
    item = Item(
        id=item_id,
        audio=f"clips/{item_id}.wav",
        question=scene.question,
        answer=scene.answer,
        task=task,
        task_type=spec.task_type,
        metric=spec.metric,
        choices=list(choices) if choices else None,
        extra={"seconds": round(n / SR, 3), "events": scene.events},
    )
    return Example(item, synth.quantize(scene.audio))


def _kind(event: dict) -> int:
    return EVENT_KINDS.index(event["label"])


def generate_long(
    out_dir: str | Path,
    per_task: int,
    seed: int = 0,
    tasks: Sequence[str] | None = None,
    min_seconds: float = DEFAULT_MIN_SECONDS,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    progress: bool = True,
) -> list[Item]:
    """Write ``per_task`` items of each long task to ``out_dir/items.jsonl`` and their WAVs to ``out_dir/clips/``.

    Returns the items (audio paths relative to ``out_dir``). Speech tasks need espeak-ng. ``ValueError`` for an
    unknown task, ``per_task`` < 1, ``min_seconds`` below :data:`SHORTEST_SECONDS` or ``max_seconds`` below
    ``min_seconds``, before anything is written.
    """
    tasks = checked_tasks(tasks, LONG_TASKS, per_task, "long tasks")
    _check_seconds(min_seconds, max_seconds)
    return write_examples(
        out_dir, tasks, per_task, lambda t, i: make_long_example(t, i, seed, min_seconds, max_seconds), progress
    )
