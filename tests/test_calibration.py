"""calibrate(): exact statistics, bad files, errors, and calibrate -> save -> load -> wrap -> generate."""

from __future__ import annotations

import json
import logging
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

import headrouter
from headrouter import cli
from headrouter.adapters.chat_inputs import processor_inputs
from headrouter.adapters.qwen2_5_omni import loading, tiny
from headrouter.evaluation.tasks.items import Item, write_items
from headrouter.methods.headrouter import stats
from headrouter.methods.headrouter.samples import CalibrationSample, load_samples

RATE = tiny.SAMPLE_RATE


def chirp(seconds: float, start: float = 200.0, end: float = 2000.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * (start * t + (end - start) * t**2 / (2 * seconds))
    return (0.3 * np.sin(phase)).astype(np.float32)


def noise(seconds: float, seed: int) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * RATE))).astype(np.float32)


@pytest.fixture(scope="module")
def processor():
    return tiny.tiny_processor()


def mixed_samples():
    return [
        CalibrationSample(tiny.tone(2.0, 440.0), "What pitch is this tone?", "acoustic", RATE),
        CalibrationSample(noise(1.5, seed=1), "What colour is this noise?", "acoustic", RATE),
        CalibrationSample(chirp(2.5), "Transcribe the speech.", "semantic", RATE),
        CalibrationSample(tiny.tone(1.0, 300.0)[::2].copy(), "Which word was spoken?", "semantic", RATE // 2),
    ]


def eager_profiles(model, inputs) -> list[torch.Tensor]:
    """Per layer, the behaviour statistics of the eager attention rows of the text after the audio."""
    with torch.no_grad():
        attentions = model(**inputs, output_attentions=True).attentions
    ids = inputs["input_ids"][0]
    audio = ids == tiny.AUDIO_TOKEN
    last_audio = int(audio.nonzero().max())
    queries = torch.arange(last_audio + 1, ids.numel())  # the text after the audio, the last token included
    return [
        stats.behaviour(weights[:, :, queries].double(), audio[None], torch.ones(1, queries.numel(), dtype=torch.bool))[
            0
        ]
        for weights in attentions
    ]


def test_profiles_equal_statistics_of_eager_attentions(models, processor):
    model = models["eager"]
    sample = mixed_samples()[0]
    table = headrouter.calibrate(model, processor, [sample], tasks=["acoustic"], progress=False)
    expected = eager_profiles(model, processor_inputs(processor, sample.audio, sample.prompt))
    for layer, profile in enumerate(expected):
        assert torch.allclose(table.profiles["acoustic"][layer].double(), profile, atol=1e-5), layer
    assert table.meta["calibration_counts"] == {"acoustic": 1}


@pytest.mark.parametrize("truncate", [False, True])
def test_long_audio_is_heard_whole_unless_truncated(models, processor, truncate):
    model = models["eager"]
    sample = CalibrationSample(chirp(32.0), "Transcribe the speech.", "semantic", RATE)  # > chunk_length (30 s)
    table = headrouter.calibrate(
        model, processor, [sample], tasks=["semantic"], truncate_audio=truncate, progress=False
    )
    inputs = processor_inputs(processor, sample.audio, sample.prompt, truncate_audio=truncate)
    assert int((inputs["input_ids"] == tiny.AUDIO_TOKEN).sum()) == (750 if truncate else 800)
    for layer, profile in enumerate(eager_profiles(model, inputs)):
        assert torch.allclose(table.profiles["semantic"][layer].double(), profile, atol=1e-5), layer
    assert table.meta["settings"]["truncate_audio"] is truncate


def test_calibrate_save_load_wrap_generate(models, processor, tmp_path):
    model = models["sdpa"]
    table = headrouter.calibrate(model, processor, mixed_samples(), progress=False)
    assert table.tasks == ["semantic", "acoustic"]
    assert list(table.meta["calibration_counts"].items()) == [("semantic", 2), ("acoustic", 2)]
    assert table.meta["model_class"] == type(model).__name__
    for weights in table.weights.values():
        assert weights.shape == (4, 4) and bool((weights >= 0).all())
        assert torch.allclose(weights.sum(-1), torch.ones(4))
    table.save_pretrained(tmp_path / "table")

    inputs = processor_inputs(processor, chirp(3.0), "Transcribe the speech.")
    headrouter.wrap(model, keep_ratio=0.5, method="headrouter", table=tmp_path / "table")
    try:
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=6, do_sample=False)
        record = model.headrouter.records[0]
    finally:
        headrouter.unwrap(model)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 6
    assert record.audio_tokens_after == 38 and record.method == "headrouter"
    mixture = record.details["task_mixture"]
    assert set(mixture) == {"semantic", "acoustic"} and abs(sum(mixture.values()) - 1) < 1e-6


def test_bad_files_are_reported_and_skipped(models, processor, tmp_path, caplog):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"not audio at all")
    missing = tmp_path / "missing.wav"
    good = tmp_path / "good.wav"
    soundfile.write(good, tiny.tone(1.5), RATE)
    samples = [
        CalibrationSample(garbage, "Which tone?", "acoustic"),
        CalibrationSample(good, "Which tone?", "acoustic"),
        CalibrationSample(missing, "What was said?", "semantic"),
        CalibrationSample(chirp(1.0), "What was said?", "semantic", RATE),
    ]
    with caplog.at_level(logging.WARNING, logger="headrouter"):
        table = headrouter.calibrate(models["sdpa"], processor, samples, progress=False)
    assert table.meta["failed_samples"] == 2
    assert table.meta["calibration_counts"] == {"semantic": 1, "acoustic": 1}
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert str(garbage) in logged and str(missing) in logged


def test_empty_set_is_an_error(models, processor):
    with pytest.raises(ValueError, match="samples is empty"):
        headrouter.calibrate(models["sdpa"], processor, [])


def test_missing_task_type_is_an_error_before_any_work(processor):
    samples = [CalibrationSample(tiny.tone(1.0), "Which tone?", "acoustic", RATE)]
    with pytest.raises(ValueError, match=r"no calibration sample of task type \['semantic'\]"):
        headrouter.calibrate(torch.nn.Linear(1, 1), processor, samples)  # never reaches the (invalid) model
    with pytest.raises(ValueError, match=r"task types \['music'\] not in tasks"):
        headrouter.calibrate(torch.nn.Linear(1, 1), processor, [*samples, CalibrationSample("x", "y", "music")])


def test_all_failed_is_an_error(models, processor, tmp_path):
    samples = [CalibrationSample(tmp_path / f"{task}.wav", "?", task) for task in ("semantic", "acoustic")]
    with pytest.raises(ValueError, match="all 2 calibration samples failed"):
        headrouter.calibrate(models["sdpa"], processor, samples, progress=False)


def test_every_sample_of_a_task_failing_is_an_error(models, processor, tmp_path):
    samples = [CalibrationSample(tmp_path / "gone.wav", "?", "semantic"), mixed_samples()[0]]
    with pytest.raises(ValueError, match=r"every calibration sample of task type \['semantic'\] failed"):
        headrouter.calibrate(models["sdpa"], processor, samples, progress=False)


def test_load_samples(tmp_path):
    (tmp_path / "calib.jsonl").write_text(
        json.dumps({"audio": "a.wav", "prompt": "Which tone?", "task": "acoustic"})
        + "\n\n"
        + json.dumps({"audio": "/abs/b.wav", "prompt": "Say it.", "task": "semantic"})
        + "\n"
    )
    samples = load_samples(tmp_path / "calib.jsonl")
    assert [s.audio for s in samples] == [tmp_path / "a.wav", Path("/abs/b.wav")]
    assert [s.task for s in samples] == ["acoustic", "semantic"]
    (tmp_path / "bad.jsonl").write_text('{"audio": "a.wav"}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1: expected a JSON object with audio, prompt and task"):
        load_samples(tmp_path / "bad.jsonl")


def test_load_samples_reads_evaluation_items(tmp_path):
    items = [
        Item("a", "clips/a.wav", "Which note?", "C", "pitch", "acoustic", "choice", ["C", "D"]),
        Item("b", "/abs/b.wav", "Transcribe.", "1 2", "digits", "semantic", "wer"),
    ]
    write_items(items, tmp_path / "items.jsonl")
    samples = load_samples(tmp_path / "items.jsonl")
    assert [s.audio for s in samples] == [tmp_path / "clips/a.wav", Path("/abs/b.wav")]
    assert [s.prompt for s in samples] == ["Which note?\nChoices: C | D\nAnswer with one choice.", "Transcribe."]
    assert [s.task for s in samples] == ["acoustic", "semantic"]
    (tmp_path / "bad.jsonl").write_text(json.dumps({**items[0].to_dict(), "answer": "E"}) + "\n")
    with pytest.raises(ValueError, match="bad.jsonl:1: .*answer 'E' is not one of its choices"):
        load_samples(tmp_path / "bad.jsonl")


def test_cli_calibrate_and_inspect(models, processor, tmp_path, capsys):
    checkpoint = tmp_path / "ckpt"
    models["sdpa"].save_pretrained(checkpoint)
    processor.save_pretrained(checkpoint)
    lines = []
    for i, (audio, task) in enumerate([(tiny.tone(1.0), "acoustic"), (chirp(1.2), "semantic")]):
        soundfile.write(tmp_path / f"{i}.wav", audio, RATE)
        lines.append(json.dumps({"audio": f"{i}.wav", "prompt": "What is it?", "task": task}))
    (tmp_path / "calib.jsonl").write_text("\n".join(lines) + "\n")
    code = cli.main(["calibrate", "--model", str(checkpoint), "--data", str(tmp_path / "calib.jsonl"),
                     "--out", str(tmp_path / "table")])  # fmt: skip
    assert code == 0
    assert "calibrated on semantic: 1, acoustic: 1 (0 failed)" in capsys.readouterr().out
    table = headrouter.HeadTable.from_pretrained(tmp_path / "table")
    assert table.meta["calibration_counts"] == {"semantic": 1, "acoustic": 1}
    assert cli.main(["inspect", str(tmp_path / "table"), "--out", str(tmp_path / "heads.png")]) == 0
    assert (tmp_path / "heads.png").stat().st_size > 1000


def test_cli_calibrates_on_several_files_together(models, processor, tmp_path, capsys):
    checkpoint = tmp_path / "ckpt"
    models["sdpa"].save_pretrained(checkpoint)
    processor.save_pretrained(checkpoint)
    files = []
    for folder, audio, task in (("a", tiny.tone(1.0), "acoustic"), ("b", chirp(1.2), "semantic")):
        (tmp_path / folder).mkdir()
        soundfile.write(tmp_path / folder / "clip.wav", audio, RATE)  # the same relative path in both folders
        (tmp_path / folder / "calib.jsonl").write_text(
            json.dumps({"audio": "clip.wav", "prompt": "What?", "task": task})
        )
        files.append(str(tmp_path / folder / "calib.jsonl"))
    argv = ["calibrate", "--model", str(checkpoint), "--data", *files, "--out", str(tmp_path / "table")]
    assert cli.main(argv) == 0
    assert "calibrated on semantic: 1, acoustic: 1 (0 failed)" in capsys.readouterr().out
    together = headrouter.HeadTable.from_pretrained(tmp_path / "table")
    samples = [
        CalibrationSample(tiny.tone(1.0), "What?", "acoustic", RATE),
        CalibrationSample(chirp(1.2), "What?", "semantic", RATE),
    ]
    alone = headrouter.calibrate(models["sdpa"], processor, samples, progress=False)
    for task_type in ("semantic", "acoustic"):
        assert torch.allclose(together.profiles[task_type], alone.profiles[task_type], atol=1e-5)


def test_plot_has_a_panel_per_task_and_their_difference(models, processor):
    table = headrouter.calibrate(models["sdpa"], processor, mixed_samples(), progress=False)
    figure = table.plot()
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles == ["semantic (n=2)", "acoustic (n=2)", "semantic - acoustic"]


def header_only_wav(path: Path) -> Path:
    """A WAV with a valid header and no frames."""
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(RATE)
        f.writeframes(b"")
    return path


def test_empty_unreadable_and_too_short_clips_are_reported_and_skipped(models, processor, tmp_path, caplog):
    empty = header_only_wav(tmp_path / "empty.wav")
    text = tmp_path / "x.wav"
    text.write_text("not audio")
    missing = tmp_path / "missing.wav"
    samples = [
        CalibrationSample(empty, "Which tone?", "acoustic"),
        CalibrationSample(tiny.tone(1.0), "Which tone?", "acoustic", RATE),
        CalibrationSample(text, "What was said?", "semantic"),
        CalibrationSample(np.zeros(0, dtype=np.float32), "What was said?", "semantic", RATE),
        CalibrationSample(tiny.tone(1.0)[:160], "What was said?", "semantic", RATE),  # 10 ms: 0 audio tokens
        CalibrationSample(missing, "What was said?", "semantic"),
        CalibrationSample(chirp(1.0), "What was said?", "semantic", RATE),
    ]
    with caplog.at_level(logging.WARNING, logger="headrouter"):
        table = headrouter.calibrate(models["sdpa"], processor, samples, progress=False)
    assert table.meta["failed_samples"] == 5
    assert table.meta["calibration_counts"] == {"semantic": 1, "acoustic": 1}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "headrouter"]
    assert len(warnings) == 5
    assert (
        f"calibration: skipping {empty}: ValueError: cannot load audio {empty}: the file holds no audio samples"
        in (warnings[0])
    )
    assert warnings[1].startswith(f"calibration: skipping {text}: ValueError: cannot load audio {text}: not a readable")
    assert warnings[2] == (
        "calibration: skipping <array of 0 samples>: ValueError: audio array of shape (0,): the array holds no audio "
        "samples"
    )
    assert warnings[3] == (
        "calibration: skipping <array of 160 samples>: ValueError: 0.010 s of audio make 0 audio tokens: the clip is "
        "too short for the model's audio tokenizer"
    )
    assert warnings[4] == f"calibration: skipping {missing}: ValueError: cannot load audio {missing}: no such file"


def write_checkpoint(models, processor, root: Path) -> Path:
    checkpoint = root / "ckpt"
    models["sdpa"].save_pretrained(checkpoint)
    processor.save_pretrained(checkpoint)
    return checkpoint


@pytest.mark.parametrize(
    ("data", "extra", "message"),
    [
        (None, [], "calibration data file {root}/nowhere.jsonl not found"),
        ('{"audio": "a.wav", "prompt": "?", "task": "acoustic"}\n{broken', [], "{root}/calib.jsonl:2: expected a JSON"),
        (
            '{"audio": "a.wav", "prompt": "?", "task": "acoustic"}\n',
            ["--tasks", "acoustic,semantc"],
            "no calibration sample of task type ['semantc']; each of ['acoustic', 'semantc'] needs at least one",
        ),
        (
            '{"audio": "a.wav", "prompt": "?", "task": "acoustic"}\n',
            ["--tasks", "semantic"],
            "samples have task types ['acoustic'] not in tasks=['semantic']",
        ),
        (
            '{"audio": "a.wav", "prompt": "?", "task": "acoustic"}\n',
            ["--tasks", "acoustic,acoustic"],
            "tasks must not repeat, got ['acoustic', 'acoustic']",
        ),
    ],
    ids=["missing-file", "bad-json-line", "task-without-samples", "unknown-task-in-data", "repeated-task"],
)
def test_cli_calibrate_checks_its_data_before_loading_the_model(tmp_path, monkeypatch, capsys, data, extra, message):
    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the data was checked")

    monkeypatch.setattr(loading, "load_model", no_model)
    path = tmp_path / ("nowhere.jsonl" if data is None else "calib.jsonl")
    if data is not None:
        path.write_text(data)
    argv = ["calibrate", "--model", str(tmp_path), "--data", str(path), "--out", str(tmp_path / "t"), *extra]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"headrouter calibrate: error: {message.format(root=tmp_path)}")
    assert "Traceback" not in captured.err and not (tmp_path / "t").exists()


def test_cli_calibrate_skips_an_empty_wav_and_writes_the_table(models, processor, tmp_path, capsys):
    checkpoint = write_checkpoint(models, processor, tmp_path)
    soundfile.write(tmp_path / "good.wav", tiny.tone(1.0), RATE)
    soundfile.write(tmp_path / "speech.wav", chirp(1.2), RATE)
    header_only_wav(tmp_path / "empty.wav")
    lines = [
        {"audio": "good.wav", "prompt": "?", "task": "acoustic"},
        {"audio": "empty.wav", "prompt": "?", "task": "acoustic"},
        {"audio": "speech.wav", "prompt": "?", "task": "semantic"},
    ]
    (tmp_path / "calib.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    argv = ["calibrate", "--model", str(checkpoint), "--data", str(tmp_path / "calib.jsonl")]
    assert cli.main([*argv, "--out", str(tmp_path / "table")]) == 0
    assert "calibrated on semantic: 1, acoustic: 1 (1 failed)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "none", "{d}/none/head_table.safetensors not found: not a HeadTable directory"),
        (lambda d: _damaged_table(d), "{d}/t/head_table.json: not HeadTable metadata (JSONDecodeError"),
    ],
    ids=["missing", "malformed"],
)
def test_cli_inspect_errors(tmp_path, capsys, make, message):
    argv = ["inspect", str(make(tmp_path)), "--out", str(tmp_path / "heads.png")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"headrouter inspect: error: {message.format(d=tmp_path)}") and "Traceback" not in err


def _damaged_table(root: Path) -> Path:
    from test_headrouter import two_task_table

    two_task_table().save_pretrained(root / "t")
    (root / "t" / "head_table.json").write_text('{"tasks": ')
    return root / "t"


def test_cli_calibrate_refuses_a_file_as_out_before_loading_the_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(loading, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    (tmp_path / "calib.jsonl").write_text('{"audio": "a.wav", "prompt": "?", "task": "acoustic"}\n')
    (tmp_path / "taken").write_text("a file")
    argv = ["calibrate", "--model", str(tmp_path), "--data", str(tmp_path / "calib.jsonl"), "--tasks", "acoustic"]
    assert cli.main([*argv, "--out", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err
    assert err == f"headrouter calibrate: error: --out {tmp_path / 'taken'} is a file; the table needs a directory\n"
