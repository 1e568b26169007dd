"""Where ``wrap(model)`` finds HeadRouter's head table (explicit, beside the checkpoint, shipped, none), and
``headrouter calibrate --builtin``, which writes a table beside a checkpoint from the task generator's clips."""

from __future__ import annotations

import inspect
import logging
import shutil

import pytest

import headrouter
from headrouter import cli
from headrouter.adapters import load_model
from headrouter.adapters.qwen2_5_omni import loading, tiny
from headrouter.evaluation.demo import SHIPPED_MODEL
from headrouter.evaluation.tasks import speech
from headrouter.methods.headrouter.discovery import SHIPPED_TABLE

needs_espeak = pytest.mark.skipif(not speech.espeak_available(), reason="--builtin's speech tasks need espeak-ng")


def save_checkpoint(model, directory):
    """``model`` and the tiny processor saved as a checkpoint in ``directory``."""
    model.save_pretrained(directory)
    tiny.tiny_processor().save_pretrained(directory)
    return directory


def calibrated(model, directory, seed=0):
    """A one-sample head table of ``model`` saved in ``directory``."""
    sample = headrouter.CalibrationSample(tiny.tone(1.0, seed=seed), "Which note?", "acoustic", tiny.SAMPLE_RATE)
    table = headrouter.calibrate(model, tiny.tiny_processor(), [sample], tasks=["acoustic"], progress=False)
    return table.save_pretrained(directory)


def wrap_logged(caplog, model, **kwargs):
    """Wrap ``model`` at keep 0.5 and return the headrouter log records it wrote (INFO and up)."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="headrouter"):
        headrouter.wrap(model, keep_ratio=0.5, **kwargs)
    return [r for r in caplog.records if r.name == "headrouter"]


def warnings(records):
    return [r.getMessage() for r in records if r.levelno == logging.WARNING]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny checkpoint with a table calibrated on it beside its weights."""
    directory = save_checkpoint(tiny.tiny_model(), tmp_path_factory.mktemp("discovery") / "model")
    calibrated(load_model(directory), directory)
    return directory


def test_the_default_method_is_headrouter_with_the_diversity_step():
    assert inspect.signature(headrouter.wrap).parameters["method"].default == "headrouter[diversity=0.95]"
    assert inspect.signature(headrouter.pruning).parameters["method"].default == "headrouter[diversity=0.95]"
    model = headrouter.wrap(tiny.tiny_model(), keep_ratio=0.7)
    assert model.headrouter.method.name == "headrouter" and model.headrouter.config.method == "headrouter"
    assert model.headrouter.method.diversity == 0.95 and model.headrouter.config.method_kwargs["diversity"] == 0.95


def test_without_a_table_one_warning_names_the_calibrate_command(caplog):
    model = tiny.tiny_model()  # built from a config: no checkpoint directory, and the shipped table does not fit
    records = wrap_logged(caplog, model)
    assert model.headrouter.method.table is None
    [warning] = warnings(records)
    assert "table-free mode" in warning and "ignored" not in warning  # the shipped table's misfit is no news
    assert warning.endswith("headrouter calibrate --model CHECKPOINT_DIR --builtin --out CHECKPOINT_DIR")
    with caplog.at_level(logging.INFO, logger="headrouter"), headrouter.pruning(model, 0.5) as router:
        assert router.method.name == "headrouter" and router.method.table is None
    assert len(warnings(caplog.records)) == 2  # one more: one per wrap


def test_a_checkpoint_without_a_table_is_named_in_the_command(tmp_path, caplog):
    directory = save_checkpoint(tiny.tiny_model(), tmp_path / "model")
    [warning] = warnings(wrap_logged(caplog, load_model(directory)))
    assert warning.endswith(f"headrouter calibrate --model {directory} --builtin --out {directory}")


def test_the_table_beside_the_checkpoint_is_found_and_logged(checkpoint, caplog):
    model = load_model(checkpoint)
    records = wrap_logged(caplog, model)
    assert model.headrouter.method.table.source == str(checkpoint)
    assert not warnings(records)
    assert f"using the head table {checkpoint} (beside the checkpoint)" in caplog.text
    # method="headrouter" with its other settings discovers too
    headrouter.wrap(model, keep_ratio=0.5, method="headrouter", task="acoustic", debias=False)
    assert model.headrouter.method.table.source == str(checkpoint) and model.headrouter.method.task == "acoustic"
    # and so does a spec of it, its settings written in and given as keywords alike
    headrouter.wrap(model, keep_ratio=0.5, method="headrouter[diversity=0.95,task=acoustic]", debias=False)
    method = model.headrouter.method
    assert method.table.source == str(checkpoint) and (method.diversity, method.task, method.debias) == (
        0.95,
        "acoustic",
        False,
    )
    assert model.headrouter.config.method_kwargs["diversity"] == 0.95


def test_an_explicit_table_wins(checkpoint, tmp_path, caplog):
    model = load_model(checkpoint)
    other = calibrated(model, tmp_path / "other", seed=1)
    records = wrap_logged(caplog, model, method="headrouter", table=str(other))
    assert model.headrouter.method.table.source == str(other) and not warnings(records)
    records = wrap_logged(caplog, model, method="headrouter", table=None)  # table-free, deliberately: no warning
    assert model.headrouter.method.table is None and not warnings(records)
    records = wrap_logged(caplog, model, method="headrouter[table=none]")  # the same, written in a spec
    assert model.headrouter.method.table is None and not warnings(records)
    method = headrouter.get_method("headrouter")  # a method object is used as given
    headrouter.wrap(model, keep_ratio=0.5, method=method)
    assert model.headrouter.method is method and method.table is None


def test_the_shipped_table_for_the_shipped_model(caplog):
    model = load_model(SHIPPED_MODEL)
    records = wrap_logged(caplog, model)
    assert model.headrouter.method.table.source == str(SHIPPED_TABLE) and not warnings(records)
    assert f"using the head table {SHIPPED_TABLE} (shipped with headrouter)" in caplog.text


def test_a_table_of_another_architecture_beside_a_checkpoint_is_ignored_with_the_reason(checkpoint, tmp_path, caplog):
    # one KV head instead of two: the same 4 layers x 4 heads, another decoder config hash
    directory = save_checkpoint(tiny.tiny_model(num_kv_heads=1), tmp_path / "model")
    for name in ("head_table.json", "head_table.safetensors"):
        shutil.copy(checkpoint / name, directory / name)
    model = load_model(directory)
    [warning] = warnings(wrap_logged(caplog, model))
    assert model.headrouter.method.table is None
    assert f"ignored the table in {directory}: its decoder config hash is " in warning
    assert "(another architecture)" in warning and "table-free mode" in warning
    with pytest.raises(ValueError, match="calibrated on a Qwen2_5OmniThinker"):  # named explicitly: refused
        headrouter.wrap(model, keep_ratio=0.5, method="headrouter", table=directory)


def test_a_table_of_another_shape_beside_a_checkpoint_is_ignored(checkpoint, tmp_path, caplog):
    directory = save_checkpoint(tiny.tiny_model(num_layers=3), tmp_path / "model")
    for name in ("head_table.json", "head_table.safetensors"):
        shutil.copy(checkpoint / name, directory / name)
    [warning] = warnings(wrap_logged(caplog, load_model(directory)))
    assert f"ignored the table in {directory}: it has 4 layers x 4 heads, the model 3 layers x 4 heads" in warning


@needs_espeak
def test_calibrate_builtin_writes_a_table_that_wrap_finds(tmp_path, capsys):
    directory = save_checkpoint(tiny.tiny_model(), tmp_path / "model")
    argv = ["calibrate", "--model", str(directory), "--builtin", "--samples", "4", "--seed", "3"]
    assert cli.main([*argv, "--out", str(directory)]) == 0
    assert f"calibrated on semantic: 4, acoustic: 4 (0 failed); table written to {directory}" in capsys.readouterr().out
    model = headrouter.wrap(load_model(directory), keep_ratio=0.7)
    table = model.headrouter.method.table
    assert table.source == str(directory) and table.meta["calibration_counts"] == {"semantic": 4, "acoustic": 4}
    builtin = table.meta["builtin_calibration_set"]
    assert (builtin["samples_per_task_type"], builtin["seed"]) == (4, 3)
    assert builtin["tasks"]["semantic"] == ["spoken_digit", "keyword_needle", "digit_string"]
    assert not list(tmp_path.glob("model/clips")) and not list(directory.glob("*.wav"))  # the clips were temporary


def test_calibrate_builtin_without_espeak_says_so_before_loading(tmp_path, monkeypatch, capsys):
    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before espeak-ng was checked")

    monkeypatch.setattr(speech, "espeak_available", lambda: False)
    monkeypatch.setattr(loading, "load_model", no_model)
    argv = ["calibrate", "--model", str(tmp_path), "--builtin", "--out", str(tmp_path / "out")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "--builtin speaks its spoken_digit, keyword_needle, digit_string, voice_type clips with espeak-ng" in err
    assert "not on PATH" in err and "--data" in err


@pytest.mark.parametrize(
    "extra",
    [["--data", "items.jsonl", "--builtin"], []],
    ids=["both", "neither"],
)
def test_calibrate_takes_exactly_one_of_data_and_builtin(tmp_path, extra, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["calibrate", "--model", str(tmp_path), "--out", str(tmp_path / "out"), *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "not allowed with argument" in err if extra else "one of the arguments --data --builtin is required" in err


def test_samples_and_seed_need_builtin(tmp_path, capsys):
    argv = ["calibrate", "--model", str(tmp_path), "--data", "x.jsonl", "--out", str(tmp_path), "--samples", "4"]
    assert cli.main(argv) == 2
    assert "--samples and --seed choose what --builtin generates" in capsys.readouterr().err
