"""Synthetic listening tasks: task definitions, one example per (seed, task, index), and ``generate``.

Eight tasks in two families. Semantic (what is said, by espeak-ng voices over noise or babble):
``spoken_digit``, ``keyword_needle`` (one keyword hidden in a long clip), ``digit_string`` (transcribe 3
digits, scored by WER). Acoustic (how it sounds): ``pitch_class``, ``noise_colour``, ``beep_count``,
``chord_quality``, ``voice_type`` (espeak male vs female voice variants, standing in for speaker gender).

Each clip is background noise of a random colour and level with the content at a random time, and its
length is drawn the same way in every task (a share of long clips up to ``max_seconds``), so long clips
occur in every family. Every example draws from its own ``numpy`` generator seeded by
``(seed, task number, index)``: the same seed gives byte-identical items and WAVs, independent of how many
items or which tasks are asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from headrouter.evaluation.tasks import scenes, speech, synth
from headrouter.evaluation.tasks.items import Item, write_items

logger = logging.getLogger("headrouter")

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
KEYWORDS = ("apple", "river", "yellow", "window", "tiger", "music", "garden", "pencil")
DEFAULT_MIN_SECONDS = 2.0
DEFAULT_MAX_SECONDS = 64.0
DEFAULT_LONG_FRACTION = 0.15
LONG_FROM_SECONDS = 40.0


@dataclass(frozen=True)
class Example:
    """One generated example before it is written: the item (audio path still to be set) and its waveform."""

    item: Item
    audio: np.ndarray


@dataclass(frozen=True)
class TaskSpec:
    """A task: its name, family, metric, question, choices (None for short answers) and content maker.

    ``make(rng)`` returns ``(answer, content, background)``: the content sound, placed at a random time,
    and the background to place it on (``None`` for the default random noise).
    """

    name: str
    task_type: str
    metric: str
    question: str
    choices: tuple[str, ...] | None
    make: Callable[[np.random.Generator, float], tuple[str, np.ndarray | None, np.ndarray | None]]
    min_seconds: float = DEFAULT_MIN_SECONDS


def _spoken_digit(rng: np.random.Generator, seconds: float):
    digit = int(rng.integers(10))
    return str(digit), speech.speak(DIGIT_WORDS[digit], *scenes.random_voice(rng)), None


def _keyword_needle(rng: np.random.Generator, seconds: float):
    word = KEYWORDS[int(rng.integers(len(KEYWORDS)))]
    n = int(seconds * synth.SAMPLE_RATE)
    background = scenes.background(rng, n)
    if rng.random() < 0.5:
        background = background + scenes.babble(rng, n, float(rng.uniform(0.02, 0.06)))
    return word, speech.speak(word, *scenes.random_voice(rng)), background


def _digit_string(rng: np.random.Generator, seconds: float):
    digits = rng.integers(10, size=3).tolist()
    text = ", ".join(DIGIT_WORDS[d] for d in digits)
    return " ".join(str(d) for d in digits), speech.speak(text, *scenes.random_voice(rng)), None


def _pitch_class(rng: np.random.Generator, seconds: float):
    name = synth.NOTE_NAMES[int(rng.integers(len(synth.NOTE_NAMES)))]
    midi = 60 + 12 * int(rng.integers(2)) + synth.NOTE_SEMITONES[name]  # octave 4 or 5
    return name, synth.harmonic_tone(synth.midi_frequency(midi), float(rng.uniform(0.6, 2.5)), rng), None


def _noise_colour(rng: np.random.Generator, seconds: float):
    colour = synth.NOISE_COLOURS[int(rng.integers(3))]
    n = int(seconds * synth.SAMPLE_RATE)
    return colour, None, synth.noise(colour, n, rng) * float(rng.uniform(0.05, 0.3))


def _beep_count(rng: np.random.Generator, seconds: float):
    count = int(rng.integers(1, 5))
    sound = synth.beeps(count, float(rng.uniform(600, 2000)), float(rng.uniform(0.08, 0.15)), rng.uniform(0.15, 0.35))
    return str(count), sound, None


def _chord_quality(rng: np.random.Generator, seconds: float):
    quality = ("major", "minor")[int(rng.integers(2))]
    return quality, synth.chord(int(rng.integers(57, 73)), quality, float(rng.uniform(1.0, 3.0)), rng), None


def _voice_type(rng: np.random.Generator, seconds: float):
    female = bool(rng.integers(2))
    variants = speech.FEMALE_VARIANTS if female else speech.MALE_VARIANTS
    voice, rate, _ = scenes.random_voice(rng, variants)
    words = DIGIT_WORDS + KEYWORDS
    text = " ".join(words[int(i)] for i in rng.integers(len(words), size=int(rng.integers(1, 4))))
    return ("female" if female else "male"), speech.speak(text, voice, rate, int(rng.integers(40, 61))), None


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec("spoken_digit", "semantic", "choice", "Which digit is spoken?", tuple("0123456789"), _spoken_digit),
        TaskSpec(
            "keyword_needle",
            "semantic",
            "choice",
            "One keyword is spoken somewhere in this recording. Which keyword is it?",
            KEYWORDS,
            _keyword_needle,
            min_seconds=6.0,
        ),
        TaskSpec(
            "digit_string",
            "semantic",
            "wer",
            "Transcribe the spoken digits, separated by spaces.",
            None,
            _digit_string,
            min_seconds=3.0,
        ),
        TaskSpec("pitch_class", "acoustic", "choice", "Which note is played?", synth.NOTE_NAMES, _pitch_class),
        TaskSpec("noise_colour", "acoustic", "choice", "What colour is the noise?", synth.NOISE_COLOURS, _noise_colour),
        TaskSpec("beep_count", "acoustic", "choice", "How many beeps are there?", ("1", "2", "3", "4"), _beep_count),
        TaskSpec(
            "chord_quality", "acoustic", "choice", "Is the chord major or minor?", ("major", "minor"), _chord_quality
        ),
        TaskSpec(
            "voice_type",
            "acoustic",
            "choice",
            "Is the speaker's voice male or female?",
            ("male", "female"),
            _voice_type,
        ),
    )
}
SPEECH_TASKS = ("spoken_digit", "keyword_needle", "digit_string", "voice_type")


def draw_seconds(
    rng: np.random.Generator,
    min_seconds: float = DEFAULT_MIN_SECONDS,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    long_fraction: float = DEFAULT_LONG_FRACTION,
    long_from: float = LONG_FROM_SECONDS,
) -> float:
    """A clip length: with probability ``long_fraction`` uniform in [``long_from``, max], else log-uniform in
    [min, ``long_from``] (``long_from`` is clamped into [min, max])."""
    long_from = min(max(long_from, min_seconds), max_seconds)
    if rng.random() < long_fraction:
        return float(rng.uniform(long_from, max_seconds))
    return float(np.exp(rng.uniform(np.log(min_seconds), np.log(long_from))))


def make_example(
    task: str,
    index: int,
    seed: int = 0,
    min_seconds: float = DEFAULT_MIN_SECONDS,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    long_fraction: float = DEFAULT_LONG_FRACTION,
    long_from: float = LONG_FROM_SECONDS,
) -> Example:
    """Example ``index`` of ``task`` for ``seed``: the item (audio path ``clips/<id>.wav``) and its 16 kHz audio.

    The clip's length is drawn from [``min_seconds``, ``max_seconds``], each raised to the task's own
    ``min_seconds`` where that is longer (:func:`generate` refuses a ``max_seconds`` below it instead); a clip whose
    content (a chord, a tone, a phrase) is longer than the length drawn runs to the content's end plus 0.5 s. The
    audio is already quantised to 16-bit, so it equals what the written WAV decodes to.
    """
    spec = TASKS[task]
    rng = np.random.default_rng([seed, list(TASKS).index(task), index])
    low, high = max(min_seconds, spec.min_seconds), max(max_seconds, spec.min_seconds)
    seconds = draw_seconds(rng, low, high, long_fraction, max(long_from, low))
    answer, content, background = spec.make(rng, seconds)
    n = int(seconds * synth.SAMPLE_RATE)
    if content is not None:
        n = max(n, content.size + synth.SAMPLE_RATE // 2)
    if background is None:
        background = scenes.background(rng, n)
    audio = np.zeros(n, dtype=np.float32)
    audio[: background.size] = background[:n]
    if content is not None:
        start = int(rng.integers(synth.SAMPLE_RATE // 4, n - content.size - synth.SAMPLE_RATE // 4 + 1))
        snr_db = rng.uniform(8, 25)
        gain = synth.rms(background) * 10 ** (snr_db / 20) / synth.rms(content[np.abs(content) > 0.05])
        synth.place(audio, content, start, min(gain, 0.9))
    item_id = f"{task}-{index:06d}"
    item = Item(
        id=item_id,
        audio=f"clips/{item_id}.wav",
        question=spec.question,
        answer=answer,
        task=task,
        task_type=spec.task_type,
        metric=spec.metric,
        choices=list(spec.choices) if spec.choices else None,
    )
    return Example(item, synth.quantize(audio))


def generate(
    out_dir: str | Path,
    per_task: int,
    seed: int = 0,
    tasks: Sequence[str] | None = None,
    min_seconds: float = DEFAULT_MIN_SECONDS,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    long_fraction: float = DEFAULT_LONG_FRACTION,
    progress: bool = True,
) -> list[Item]:
    """Write ``per_task`` items of each task to ``out_dir/items.jsonl`` and their WAVs to ``out_dir/clips/``.

    Returns the items (audio paths relative to ``out_dir``). Speech tasks need espeak-ng. ``ValueError`` for a
    ``max_seconds`` below ``min_seconds`` or below the shortest clip of one of the ``tasks`` (3 s for
    ``digit_string``, 6 s for ``keyword_needle``), which no clip could honour (see :func:`make_example`).
    """
    tasks = checked_tasks(tasks, TASKS, per_task)
    shortest = {t: max(min_seconds, TASKS[t].min_seconds) for t in tasks}
    longest = max(shortest, key=shortest.__getitem__)
    if max_seconds < shortest[longest]:
        raise ValueError(
            f"max_seconds must be at least {shortest[longest]:g} (the shortest clip of task {longest}), "
            f"got {max_seconds:g}"
        )
    return write_examples(
        out_dir,
        tasks,
        per_task,
        lambda t, i: make_example(t, i, seed, min_seconds, max_seconds, long_fraction),
        progress,
    )


def checked_tasks(
    tasks: Sequence[str] | None, known: Mapping[str, object], per_task: int, kind: str = "tasks"
) -> list[str]:
    """``tasks`` (default: all ``known``) as a list; ``ValueError`` for an unknown task (of ``kind``) or ``per_task``
    < 1."""
    tasks = list(tasks or known)
    unknown = [t for t in tasks if t not in known]
    if unknown:
        raise ValueError(f"unknown {kind} {unknown}; known: {list(known)}")
    if per_task < 1:
        raise ValueError(f"per_task must be >= 1, got {per_task}")
    return tasks


def write_examples(
    out_dir: str | Path, tasks: Sequence[str], per_task: int, make: Callable[[str, int], Example], progress: bool
) -> list[Item]:
    """``make(task, index)`` for ``per_task`` indices of each task, task by task: each WAV to ``out_dir/clips/``,
    the items to ``out_dir/items.jsonl``; returns the items."""
    out = Path(out_dir)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    items = []
    jobs = [(task, i) for task in tasks for i in range(per_task)]
    for task, i in tqdm(jobs, desc="generating", unit="clip", disable=not progress):
        example = make(task, i)
        synth.write_wav(out / example.item.audio, example.audio)
        items.append(example.item)
    write_items(items, out / "items.jsonl")
    logger.info("wrote %d items of %d tasks to %s", len(items), len(tasks), out)
    return items
