"""The synthetic task generator: deterministic by seed, valid items, clip lengths, coverage, correct labels."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest

from headrouter.evaluation.tasks import TASKS, format_prompt, generate, make_example, read_items, score, synth
from headrouter.evaluation.tasks.generator import SPEECH_TASKS, draw_seconds
from headrouter.evaluation.tasks.speech import espeak_available

ACOUSTIC_NUMPY = [t for t in TASKS if t not in SPEECH_TASKS]
needs_espeak = pytest.mark.skipif(
    not espeak_available(), reason="espeak-ng is not installed (apt-get install espeak-ng): speech tasks need it"
)


def _tasks(with_speech: bool) -> list[str]:
    return list(TASKS) if with_speech else ACOUSTIC_NUMPY


def _files(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("with_speech", [False, pytest.param(True, marks=needs_espeak)])
def test_same_seed_gives_identical_bytes(tmp_path, with_speech):
    kwargs = dict(per_task=2, tasks=_tasks(with_speech), max_seconds=8.0, progress=False)
    first = generate(tmp_path / "a", seed=3, **kwargs)
    second = generate(tmp_path / "b", seed=3, **kwargs)
    other = generate(tmp_path / "c", seed=4, **kwargs)
    assert first == second
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    files_a, files_c = _files(tmp_path / "a"), _files(tmp_path / "c")
    assert files_a.keys() == files_c.keys()
    assert all(files_a[name] != files_c[name] for name in files_a if name.endswith(".wav"))
    assert first != other


def test_examples_do_not_depend_on_what_else_is_generated(tmp_path):
    alone = make_example("pitch_class", 5, seed=7)
    generate(tmp_path, per_task=6, seed=7, tasks=["noise_colour", "pitch_class"], progress=False)
    written = synth.read_wav(tmp_path / "clips" / "pitch_class-000005.wav")
    np.testing.assert_array_equal(alone.audio, written)


@pytest.mark.parametrize("with_speech", [False, pytest.param(True, marks=needs_espeak)])
def test_items_validate_and_round_trip(tmp_path, with_speech):
    items = generate(tmp_path, per_task=3, seed=0, tasks=_tasks(with_speech), max_seconds=6.0, progress=False)
    loaded = read_items(tmp_path / "items.jsonl")
    assert [i.id for i in loaded] == [i.id for i in items]
    assert len({i.id for i in items}) == len(items)
    for item in loaded:
        spec = TASKS[item.task]
        assert item.task_type == spec.task_type in ("semantic", "acoustic")
        assert item.metric == spec.metric
        assert (tmp_path / "clips" / f"{item.id}.wav").is_file()
        assert len(item.answer) <= 8, "answers stay short"
        if item.choices:
            assert item.answer in item.choices
            assert all(c in format_prompt(item) for c in item.choices)
        perfect = score(item, item.answer)
        assert perfect == (0.0 if item.metric == "wer" else 1.0)
        wav = synth.read_wav(item.audio)
        assert wav.dtype == np.float32 and np.abs(wav).max() > 0.01


def test_task_families_and_metrics_cover_the_spec():
    families = {t: s.task_type for t, s in TASKS.items()}
    assert {t for t, f in families.items() if f == "semantic"} == {"spoken_digit", "keyword_needle", "digit_string"}
    assert {t for t, f in families.items() if f == "acoustic"} == {
        "pitch_class",
        "noise_colour",
        "beep_count",
        "chord_quality",
        "voice_type",
    }
    assert TASKS["digit_string"].metric == "wer" and TASKS["digit_string"].choices is None


def test_clip_lengths_span_seconds_to_over_a_minute():
    rng = np.random.default_rng(0)
    lengths = np.array([draw_seconds(rng) for _ in range(4000)])
    assert lengths.min() >= 2.0 and lengths.max() <= 64.0
    assert (lengths < 5).mean() > 0.2
    assert (lengths >= 60).sum() > 10  # 1,500+ audio tokens


@pytest.mark.parametrize("task", [pytest.param(t, marks=needs_espeak if t in SPEECH_TASKS else ()) for t in TASKS])
def test_every_task_makes_long_clips_and_short_ones(task):
    long = make_example(task, 0, seed=1, long_fraction=1.0)
    assert 40.0 <= long.audio.size / synth.SAMPLE_RATE <= 64.0
    short = make_example(task, 0, seed=1, long_fraction=0.0, max_seconds=8.0)
    assert short.audio.size / synth.SAMPLE_RATE <= 8.5


@pytest.mark.parametrize("task", [pytest.param(t, marks=needs_espeak if t in SPEECH_TASKS else ()) for t in TASKS])
def test_answers_cover_the_choices(task):
    answers = {make_example(task, i, seed=2, max_seconds=4.0).item.answer for i in range(60)}
    spec = TASKS[task]
    if spec.choices:
        assert answers == set(spec.choices)
    else:
        assert len(answers) > 30


def test_noise_colour_labels_match_the_spectrum():
    for i in range(12):
        example = make_example("noise_colour", i, seed=0, max_seconds=4.0)
        spectrum = np.abs(np.fft.rfft(example.audio)) ** 2
        freqs = np.fft.rfftfreq(example.audio.size, 1 / synth.SAMPLE_RATE)
        band = (freqs > 50) & (freqs < 5000)
        slope = np.polyfit(np.log(freqs[band]), np.log(spectrum[band] + 1e-20), 1)[0]
        expected = {"white": 0.0, "pink": -1.0, "brown": -2.0}[example.item.answer]
        assert abs(slope - expected) < 0.35, (example.item.answer, slope)


def test_beep_count_labels_match_the_audio():
    for i in range(12):
        example = make_example("beep_count", i, seed=0, max_seconds=6.0)
        frame = synth.SAMPLE_RATE // 100  # 10 ms frames, energy in the beeps' band (600-2000 Hz)
        frames = example.audio[: example.audio.size // frame * frame].reshape(-1, frame)
        spectrum = np.abs(np.fft.rfft(frames * np.hanning(frame), axis=1)) ** 2
        freqs = np.fft.rfftfreq(frame, 1 / synth.SAMPLE_RATE)
        energy = spectrum[:, (freqs >= 500) & (freqs <= 2100)].sum(1)
        loud = energy > energy.max() / 10
        onsets = int(np.sum(loud[1:] & ~loud[:-1]) + loud[0])
        assert onsets == int(example.item.answer)


def test_pitch_class_labels_match_the_tone():
    for i in range(12):
        example = make_example("pitch_class", i, seed=0, max_seconds=4.0)
        spectrum = np.abs(np.fft.rfft(example.audio))
        freqs = np.fft.rfftfreq(example.audio.size, 1 / synth.SAMPLE_RATE)
        band = (freqs > 200) & (freqs < 1100)
        peak = freqs[band][np.argmax(spectrum[band])]
        midi = 69 + 12 * np.log2(peak / 440.0)
        assert round(midi) % 12 == synth.NOTE_SEMITONES[example.item.answer]


def test_unknown_task_and_bad_counts_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown tasks"):
        generate(tmp_path, per_task=1, tasks=["nope"], progress=False)
    with pytest.raises(ValueError, match="per_task"):
        generate(tmp_path, per_task=0, progress=False)


def test_cli_writes_the_same_items_as_generate(tmp_path, capsys):
    from headrouter.cli import main

    args = ["--per-task", "2", "--seed", "5", "--tasks", "pitch_class,beep_count", "--max-seconds", "6"]
    assert main(["tasks", "--out", str(tmp_path / "cli"), *args]) == 0
    assert "wrote 4 items (acoustic: 4)" in capsys.readouterr().out
    generate(tmp_path / "py", 2, 5, ["pitch_class", "beep_count"], max_seconds=6.0, progress=False)
    assert _files(tmp_path / "cli") == _files(tmp_path / "py")
    for bad, message in [
        (["--tasks", "nope"], "--tasks: unknown task(s) nope; known: spoken_digit, keyword_needle, digit_string,"),
        (["--tasks", "beep_count,beep_count"], "--tasks: tasks must not repeat, got beep_count,beep_count"),
        (["--per-task", "0"], "--per-task: must be >= 1"),
        (["--long-fraction", "1.5"], "--long-fraction: must be in"),
        (["--max-seconds", "1"], "--max-seconds: must be at least 2 (the shortest clip a task draws), got 1"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(["tasks", "--out", str(tmp_path / "bad"), "--per-task", "1", *bad])
        assert exit_info.value.code == 2
        assert f"headrouter tasks: error: argument {message}" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize(
    ("tasks", "max_seconds", "message"),
    [
        (["pitch_class"], 1.5, "max_seconds must be at least 2 (the shortest clip of task pitch_class), got 1.5"),
        (["pitch_class", "digit_string"], 2.5, "at least 3 (the shortest clip of task digit_string), got 2.5"),
        (None, 5.0, "max_seconds must be at least 6 (the shortest clip of task keyword_needle), got 5"),
    ],
)
def test_a_max_seconds_no_clip_can_honour_is_refused(tmp_path, tasks, max_seconds, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        generate(tmp_path / "out", per_task=1, tasks=tasks, max_seconds=max_seconds, progress=False)
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_max_seconds_bounds_the_clips_it_allows(tmp_path):
    items = generate(tmp_path, per_task=6, tasks=["noise_colour", "beep_count"], max_seconds=2.5, long_fraction=1.0,
                     progress=False)  # fmt: skip
    lengths = [synth.read_wav(tmp_path / item.audio).size / synth.SAMPLE_RATE for item in items]
    assert max(lengths) <= 2.5 and min(lengths) >= 2.0


# Fingerprints of the short family's output for seed 11, taken before the long family (tasks/long.py) was added: the
# short tasks must keep giving the same items and bytes for the same seed. Numpy tasks: items and WAV bytes of three
# short clips and one long one; speech tasks: the items only (espeak-ng's samples may differ between its versions).
SHORT_FAMILY_FINGERPRINTS = {
    "pitch_class": "9e2bcef8a06381af",
    "noise_colour": "9ee3f06f694e313b",
    "beep_count": "10acb262fad019cd",
    "chord_quality": "0a427a30a70a1c70",
}
SHORT_SPEECH_ITEMS_FINGERPRINT = "d5071e2318cb1179"


def _fingerprint(examples) -> str:
    digest = hashlib.sha256()
    for example in examples:
        digest.update(json.dumps(example.item.to_dict(), sort_keys=True).encode())
        if example.audio is not None:
            digest.update(synth.wav_bytes(example.audio))
    return digest.hexdigest()[:16]


@pytest.mark.parametrize("task", list(SHORT_FAMILY_FINGERPRINTS))
def test_short_family_output_is_unchanged_for_a_fixed_seed(task):
    examples = [make_example(task, i, seed=11, max_seconds=8.0) for i in range(3)]
    examples.append(make_example(task, 3, seed=11, long_fraction=1.0))
    assert _fingerprint(examples) == SHORT_FAMILY_FINGERPRINTS[task]


@needs_espeak
def test_short_speech_items_are_unchanged_for_a_fixed_seed():
    items = [make_example(t, i, seed=11, max_seconds=8.0).item for t in SPEECH_TASKS for i in range(3)]
    digest = hashlib.sha256(b"".join(json.dumps(item.to_dict(), sort_keys=True).encode() for item in items))
    assert digest.hexdigest()[:16] == SHORT_SPEECH_ITEMS_FINGERPRINT
