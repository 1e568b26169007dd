"""The long-clip task family: deterministic by seed, lengths in bounds (120 s and more), and every answer where the
item says it is, checked on the signal (band energy, spectral peaks, matched filters on the speech)."""

from __future__ import annotations

import numpy as np
import pytest

from headrouter.evaluation.tasks import format_prompt, read_items, score, speech, synth
from headrouter.evaluation.tasks.long import (
    EVENT_BANDS,
    LONG_SPEECH_TASKS,
    LONG_TASKS,
    clock,
    generate_long,
    make_long_example,
)

SR = synth.SAMPLE_RATE
HOP = 0.1  # analysis frames of 100 ms
LOUD = 4.5  # in-band energy over the clip's median that marks an event (events reach >= 6, the background <= 3.2)
needs_espeak = pytest.mark.skipif(not speech.espeak_available(), reason="espeak-ng is not installed")
ACOUSTIC = [t for t in LONG_TASKS if t not in LONG_SPEECH_TASKS]


def _short(task: str, index: int, seed: int = 0):
    return make_long_example(task, index, seed, min_seconds=30.0, max_seconds=36.0)


def _spectra(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Power spectra of 100 ms frames, their frequencies and their start times."""
    f = int(HOP * SR)
    frames = audio[: audio.size // f * f].reshape(-1, f)
    spectra = np.abs(np.fft.rfft(frames * np.hanning(f), axis=1)) ** 2
    return spectra, np.fft.rfftfreq(f, 1 / SR), np.arange(frames.shape[0]) * HOP


def _band_level(spectra: np.ndarray, freqs: np.ndarray, kind: str) -> np.ndarray:
    """Each frame's energy in ``kind``'s band over the clip's median frame there."""
    low, high = EVENT_BANDS[kind]
    band = (freqs >= low) & (freqs <= high)
    return spectra[:, band].sum(1) / np.median(spectra, axis=0)[band].sum()


def _loud(spectra: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Frames loud in any event's band."""
    return np.max([_band_level(spectra, freqs, kind) for kind in EVENT_BANDS], axis=0) > LOUD


def _which(spectra: np.ndarray, freqs: np.ndarray, frames: np.ndarray) -> str:
    """The event kind whose band gains the most energy over the clip's median in ``frames``."""
    base = np.median(spectra, axis=0)
    gains = {}
    for kind, (low, high) in EVENT_BANDS.items():
        band = (freqs >= low) & (freqs <= high)
        gains[kind] = float((spectra[frames][:, band] - base[band]).sum(1).mean())
    return max(gains, key=gains.get)


def _overlaps(times: np.ndarray, event: dict, margin: float = 0.0) -> np.ndarray:
    return (times + HOP > event["start"] - margin) & (times < event["end"] + margin)


def _segments(loud: np.ndarray, merge: float = 0.5) -> list[int]:
    """First frames of the runs of loud frames, runs closer than ``merge`` seconds joined."""
    onsets, last = [], -np.inf
    for i in np.flatnonzero(loud):
        if i - last > merge / HOP:
            onsets.append(int(i))
        last = i
    return onsets


def _files(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("with_speech", [False, pytest.param(True, marks=needs_espeak)])
def test_same_seed_gives_identical_bytes(tmp_path, with_speech):
    tasks = list(LONG_SPEECH_TASKS) if with_speech else ACOUSTIC
    kwargs = dict(per_task=1, tasks=tasks, min_seconds=30.0, max_seconds=32.0, progress=False)
    first = generate_long(tmp_path / "a", seed=3, **kwargs)
    second = generate_long(tmp_path / "b", seed=3, **kwargs)
    generate_long(tmp_path / "c", seed=4, **kwargs)
    assert first == second and _files(tmp_path / "a") == _files(tmp_path / "b")
    files_a, files_c = _files(tmp_path / "a"), _files(tmp_path / "c")
    assert all(files_a[name] != files_c[name] for name in files_a)
    loaded = read_items(tmp_path / "a" / "items.jsonl")
    assert [item.extra for item in loaded] == [item.extra for item in first]
    for item in loaded:
        assert item.task_type == LONG_TASKS[item.task].task_type
        assert score(item, item.answer) == (0.0 if item.metric == "wer" else 1.0)
        if item.choices:
            assert all(choice in format_prompt(item) for choice in item.choices)
        assert 30.0 <= synth.read_wav(item.audio).size / SR <= 32.0


@pytest.mark.parametrize("task", ["note_at_time", pytest.param("long_keyword_needle", marks=needs_espeak)])
def test_clips_reach_two_minutes_and_stay_in_bounds(task):
    example = make_long_example(task, 0, seed=5, min_seconds=120.0, max_seconds=125.0)
    seconds = example.audio.size / SR
    assert 120.0 <= seconds <= 125.0 and example.item.extra["seconds"] == pytest.approx(seconds, abs=1e-3)
    assert seconds * 25 >= 3000  # audio tokens at 25 per second
    assert all(1.0 <= event["start"] < event["end"] <= seconds - 0.5 for event in example.item.extra["events"])


def test_the_hidden_event_is_in_its_window_and_nowhere_else():
    kinds = set()
    for index in range(8):
        item = (example := _short("hidden_event", index)).item
        (event,) = item.extra["events"]
        assert event["label"] == item.answer and item.choices == ["bark", "siren", "bell", "clicks"]
        spectra, freqs, times = _spectra(example.audio)
        loud = _loud(spectra, freqs)
        assert loud[_overlaps(times, event)].any() and not loud[~_overlaps(times, event, margin=0.2)].any(), index
        assert _which(spectra, freqs, _overlaps(times, event)) == item.answer, index
        kinds.add(item.answer)
    assert kinds == set(EVENT_BANDS)


def test_event_counts_match_the_events_heard():
    counts = set()
    for index in range(6):
        item = (example := _short("event_count", index)).item
        kinds = {event["label"] for event in item.extra["events"]}
        assert len(kinds) == 1 and len(item.extra["events"]) == int(item.answer)
        spectra, freqs, times = _spectra(example.audio)
        onsets = _segments(_band_level(spectra, freqs, kinds.pop()) > LOUD)
        assert len(onsets) == int(item.answer), index
        for onset, event in zip(onsets, item.extra["events"], strict=True):
            assert _overlaps(times[onset : onset + 1], event)[0]
        counts.add(item.answer)
    assert len(counts) >= 3


def test_event_order_answers_match_which_is_heard_first():
    for index in range(6):
        item = (example := _short("event_order", index)).item
        first, second = item.extra["events"]
        assert item.answer == first["label"] != second["label"] and first["end"] + 5.0 <= second["start"] + 1e-3
        assert sorted(item.choices, key=list(EVENT_BANDS.keys()).index) == item.choices
        assert set(item.choices) == {first["label"], second["label"]}
        spectra, freqs, times = _spectra(example.audio)
        onsets = _segments(_loud(spectra, freqs))
        assert len(onsets) == 2, index
        heard = []
        for onset, event in zip(onsets, (first, second), strict=True):
            assert _overlaps(times[onset : onset + 1], event)[0]
            heard.append(_which(spectra, freqs, _overlaps(times, event)))
        assert heard == [first["label"], second["label"]] and heard[0] == item.answer, index


def test_the_note_at_the_stated_moment_is_the_answer():
    for index in range(6):
        item = (example := _short("note_at_time", index)).item
        (target,) = [event for event in item.extra["events"] if "moment" in event]
        moment = target["moment"]
        assert target["label"] == item.answer and item.question == f"Which note is playing at {clock(moment)}?"
        assert target["start"] + 0.6 <= moment <= target["end"] - 0.6
        window = example.audio[int((moment - 0.25) * SR) : int((moment + 0.25) * SR)]
        spectrum = np.abs(np.fft.rfft(window * np.hanning(window.size)))
        freqs = np.fft.rfftfreq(window.size, 1 / SR)
        band = (freqs > 200) & (freqs < 1100)
        peak = freqs[band][np.argmax(spectrum[band])]
        assert round(69 + 12 * np.log2(peak / 440.0)) % 12 == synth.NOTE_SEMITONES[item.answer], index
    assert clock(72) == "1:12" and clock(5) == "0:05"


def _matched_filter(audio: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of ``template`` with every window of ``audio`` (index = window start)."""
    from scipy.signal import fftconvolve

    dot = fftconvolve(audio.astype(np.float64), template[::-1].astype(np.float64), mode="valid")
    energy = np.concatenate([[0.0], np.cumsum(np.square(audio, dtype=np.float64))])
    window = np.sqrt(np.maximum(energy[template.size :] - energy[: -template.size], 1e-12))
    return dot / (window * np.linalg.norm(template))


def _heard_at(audio: np.ndarray, event: dict, text: str, voice: str | None = None) -> tuple[float, float]:
    """Where (seconds) and how strongly the event's speech (``text`` in ``voice``, default its own) matches."""
    template = speech.speak(text, voice or event["voice"], event["rate"], event["pitch"])
    match = _matched_filter(audio, template)
    return float(np.argmax(match)) / SR, float(match.max())


@needs_espeak
@pytest.mark.parametrize("task", ["long_keyword_needle", "long_digit_string"])
def test_the_spoken_needle_is_where_the_item_says(task):
    from headrouter.evaluation.tasks.generator import DIGIT_WORDS

    for index in range(3):
        item = (example := _short(task, index)).item
        (event,) = item.extra["events"]
        assert event["label"] == item.answer
        text = (
            event["label"]
            if task == "long_keyword_needle"
            else ", ".join(DIGIT_WORDS[int(d)] for d in item.answer.split())
        )
        at, strength = _heard_at(example.audio, event, text)
        assert at == pytest.approx(event["start"], abs=0.002) and strength > 0.5, (index, at, strength)
    assert len(item.answer.split()) == (1 if task == "long_keyword_needle" else 4)


@needs_espeak
def test_the_speaker_of_the_word_is_the_one_who_says_it():
    for index in range(3):
        item = (example := _short("word_speaker", index)).item
        events = item.extra["events"]
        word = item.question.split("'")[1]
        (target,) = [e for e in events if e["label"] == word]
        assert item.answer == target["speaker"]
        assert {e["speaker"] for e in events} == {"man", "woman"} and len({e["label"] for e in events}) == len(events)
        at, strength = _heard_at(example.audio, target, word)
        assert at == pytest.approx(target["start"], abs=0.002) and strength > 0.5
        other = next(e for e in events if e["speaker"] != target["speaker"])
        assert _heard_at(example.audio, target, word, other["voice"])[1] < strength - 0.2


def test_bad_settings_are_refused(tmp_path):
    for kwargs, message in [
        ({"tasks": ["pitch_class"]}, "unknown long tasks ['pitch_class']"),
        ({"per_task": 0}, "per_task must be >= 1"),
        ({"min_seconds": 20.0}, "min_seconds must be at least 30, got 20"),
        ({"min_seconds": 60.0, "max_seconds": 50.0}, "max_seconds must be at least min_seconds (60), got 50"),
    ]:
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
            generate_long(tmp_path / "out", **{"per_task": 1, **kwargs}, progress=False)
    assert not (tmp_path / "out").exists()


def test_cli_writes_the_long_family(tmp_path, capsys):
    from headrouter.cli import main

    args = ["--per-task", "1", "--seed", "2", "--tasks", "hidden_event,note_at_time"]
    assert main(["tasks", "--family", "long", "--out", str(tmp_path / "cli"), *args, "--min-seconds", "30",
                 "--max-seconds", "31"]) == 0  # fmt: skip
    assert "wrote 2 items (acoustic: 2)" in capsys.readouterr().out
    generate_long(tmp_path / "py", 1, 2, ["hidden_event", "note_at_time"], 30.0, 31.0, progress=False)
    assert _files(tmp_path / "cli") == _files(tmp_path / "py")
    for bad, message in [
        (["--long-fraction", "0.5"], "--long-fraction applies to the short family only"),
        (["--tasks", "pitch_class"], "unknown long tasks ['pitch_class']"),
        (["--min-seconds", "10"], "min_seconds must be at least 30, got 10"),
    ]:
        assert main(["tasks", "--family", "long", "--out", str(tmp_path / "bad"), "--per-task", "1", *bad]) == 2
        assert f"headrouter tasks: error: {message}" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
