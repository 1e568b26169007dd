"""The ``headrouter`` command: demo and eval on a tiny stand-in checkpoint, timing, bench wiring, argument errors."""

from __future__ import annotations

import json

import pytest
import torch
from test_evaluation import build_standin, standin_items

import headrouter
from headrouter import cli
from headrouter.adapters.qwen2_5_omni import loading
from headrouter.cli import bench as bench_command
from headrouter.evaluation import demo
from headrouter.evaluation.tasks.items import write_items


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A stand-in checkpoint and items: 4 clips, the third without its audio file."""
    root = tmp_path_factory.mktemp("cli")
    model_dir = build_standin(root)
    write_items(standin_items(root, n=4, missing=2), root / "items.jsonl")
    return {"model": str(model_dir), "data": str(root / "items.jsonl"), "root": root}


def test_demo_answers_every_clip_unpruned_and_pruned(checkpoint, capsys):
    code = cli.main(["demo", "--model", checkpoint["model"], "--data", checkpoint["data"], "--max-new-tokens", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("  Q: ") == 4
    assert "[1/4] pitch-0 (pitch, acoustic)" in out and "choices: A | C | E | G" in out and "expected: A" in out
    assert "[3/4] word-2 (word, semantic)" in out and "(skipped)" in out and "skipped word-2" in out
    settings = ("headrouter[diversity=0.95] 0.5", "headrouter[diversity=0.95] 0.3", "headrouter 0.5", "headrouter 0.3")
    for setting in ("unpruned", *settings, "fastv 0.5", "fastv 0.3"):
        assert out.count(f"\n  {setting} ") == 3, setting  # one line per answered clip
        assert f"\n{setting} " in out  # and one in the summary
    assert "25 -> 13" in out and "50 -> 15" in out  # audio tokens kept: ceil(0.5 * 25), ceil(0.3 * 50)
    assert "% of unpruned" in out and "mean prefill ms" in out
    assert "headrouter show" not in out  # the picture's command names shipped clips only


def test_demo_settings_and_limit(checkpoint, capsys):
    argv = ["demo", "--model", checkpoint["model"], "--data", checkpoint["data"], "--methods", "frame"]
    assert cli.main([*argv, "--keep", "0.2", "--limit", "1", "--max-new-tokens", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("  Q: ") == 1 and "\n  frame 0.2 " in out and "headrouter" not in out.split("\n", 2)[2]


def test_demo_without_shipped_assets_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "SHIPPED_MODEL", tmp_path / "proving_ground")
    assert cli.main(["demo"]) == 2
    err = capsys.readouterr().err
    assert "shipped demo assets are missing" in err and "--model DIR and --data" in err


def test_demo_with_a_missing_model_folder(tmp_path, checkpoint, capsys):
    assert cli.main(["demo", "--model", str(tmp_path / "nope"), "--data", checkpoint["data"]]) == 2
    assert f"{tmp_path / 'nope' / 'config.json'} not found" in capsys.readouterr().err


def test_eval_writes_results(checkpoint, tmp_path, capsys):
    out_dir = tmp_path / "out"
    argv = ["eval", "--model", checkpoint["model"], "--data", checkpoint["data"], "--methods", "fastv,random"]
    argv += ["--keep", "1.0,0.5", "--max-new-tokens", "2", "--out", str(out_dir), "--no-progress", "--no-plot"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "3 of 4 items evaluated, 1 skipped" in out
    assert "| method | keep 1.0 | keep 0.5 |" in out
    results = json.loads((out_dir / "results.json").read_text())
    assert results["counts"] == {"items": 4, "evaluated": 3, "skipped": 1}
    assert results["settings"]["model"] == checkpoint["model"] and results["settings"]["data"] == checkpoint["data"]
    assert len((out_dir / "predictions.jsonl").read_text().splitlines()) == 3 * 5
    assert (out_dir / "results.md").read_text().startswith("# headrouter eval")
    assert not (out_dir / "results.png").exists()


def test_eval_limit_and_missing_items_file(checkpoint, tmp_path, capsys):
    argv = ["eval", "--model", checkpoint["model"], "--data", checkpoint["data"], "--methods", "frame", "--keep"]
    argv += ["0.5", "--limit", "1", "--max-new-tokens", "1", "--out", str(tmp_path), "--no-progress", "--no-plot"]
    assert cli.main(argv) == 0
    assert json.loads((tmp_path / "results.json").read_text())["counts"]["items"] == 1
    capsys.readouterr()
    missing = str(tmp_path / "none.jsonl")
    assert cli.main(["eval", "--model", checkpoint["model"], "--data", missing, "--out", str(tmp_path)]) == 2
    assert f"items file {missing} not found" in capsys.readouterr().err


def test_eval_prune_layer_beyond_the_model_is_an_error(checkpoint, tmp_path, capsys):
    argv = ["eval", "--model", checkpoint["model"], "--data", checkpoint["data"], "--prune-layer", "7"]
    assert cli.main([*argv, "--out", str(tmp_path), "--no-progress"]) == 2
    assert "prune_layer must be between 1 and 3" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["eval", "--model", "m", "--data", "d", "--keep", "0"], "keep ratios must be in (0, 1], got 0"),
        (["eval", "--model", "m", "--data", "d", "--keep", "0.5,1.5"], "keep ratios must be in (0, 1], got 1.5"),
        (["eval", "--model", "m", "--data", "d", "--keep", "half"], "expected a number, got 'half'"),
        (["eval", "--model", "m", "--data", "d", "--keep", "0.5,0.5"], "keep ratios must not repeat"),
        (["eval", "--model", "m", "--data", "d", "--keep", "0.5,"], "without empty items"),
        (["eval", "--model", "m", "--data", "d", "--methods", "fastv,nope"], "unknown method(s) nope"),
        (["eval", "--model", "m", "--data", "d", "--methods", "frame,frame"], "methods must not repeat"),
        (["eval", "--model", "m", "--data", "d", "--batch-size", "0"], "must be >= 1, got 0"),
        (["eval", "--data", "d"], "the following arguments are required: --model"),
        (["demo", "--keep", "2"], "keep ratios must be in (0, 1], got 2"),
        (["demo", "--methods", "magic"], "unknown method(s) magic"),
        (["demo", "--methods", "fastv[diversity=2]"], "diversity must be None (off) or the weight"),
        (["timing", "--methods", "fastv[nope=1]"], "unknown setting(s) nope for method 'fastv'"),
        (["demo", "--limit", "0"], "must be >= 1, got 0"),
        (["timing", "--prune-layer", "4"], "must be between 1 and 3 for the tiny model, got 4"),
        (["timing", "--seconds", "0.5"], "must be at least 1 (second)"),
        (["bench", "--runs", "0"], "--runs"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_argument_errors_exit_with_argparse_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: headrouter" in err and message in err


def test_timing_prints_the_table(capsys):
    argv = ["timing", "--seconds", "1", "--runs", "1", "--methods", "frame,fastv[diversity=0.5]", "--keep", "1.0,0.4"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "none (unwrapped)" in out and "25 -> 25" in out and "25 -> 10" in out
    assert "fastv[diversity=0.5]   0.4" in out  # a spec is timed under its own label


def test_every_command_has_help(capsys):
    for command in ("demo", "eval", "timing", "bench", "calibrate", "inspect"):
        with pytest.raises(SystemExit) as exit_info:
            cli.main([command, "--help"])
        assert exit_info.value.code == 0
        assert f"usage: headrouter {command}" in capsys.readouterr().out


def test_bench_is_wired_to_its_module():
    from headrouter import bench

    args = cli.build_parser().parse_args(["bench", "--quick", "--no-memory"])
    assert args.run is bench_command.run and args.quick and args.no_memory
    assert bench.settings_from_args(args).runs == bench.QUICK_RUNS


def calibrated_table(checkpoint, root):
    """A head table calibrated on the stand-in model (so its config hash is the stand-in's)."""
    import headrouter
    from headrouter.adapters.qwen2_5_omni import tiny

    model = loading.load_model(checkpoint["model"])
    processor = loading.load_processor(checkpoint["model"])
    sample = headrouter.CalibrationSample(tiny.tone(1.0), "Which note?", "acoustic", tiny.SAMPLE_RATE)
    return headrouter.calibrate(model, processor, [sample], tasks=["acoustic"], progress=False).save_pretrained(root)


def failing_commands(checkpoint, root):
    """Per subcommand, arguments argparse accepts that the run must refuse, and the start of the error message."""
    from headrouter.evaluation.demo import SHIPPED_TABLE

    (root / "bad.jsonl").write_text('{"id": "a", "audio": "a.wav"\n')
    model, data, out = checkpoint["model"], checkpoint["data"], str(root / "out")
    eval_args = ["eval", "--model", model, "--out", out, "--no-progress"]
    return [
        (["demo", "--model", model, "--data", str(root / "bad.jsonl")], f"{root / 'bad.jsonl'}:1: not a valid item"),
        (["demo", "--model", model, "--data", data, "--table", str(SHIPPED_TABLE)], "this HeadTable was calibrated"),
        ([*eval_args, "--data", str(root / "bad.jsonl")], f"{root / 'bad.jsonl'}:1: not a valid item"),
        ([*eval_args, "--data", data, "--table", str(root / "none")], f"{root / 'none'}/head_table.safetensors not"),
        ([*eval_args, "--data", data, "--prune-layer", "4"], "prune_layer must be between 1 and 3 for a decoder of 4"),
        ([*eval_args, "--data", data, "--table", str(SHIPPED_TABLE)], "this HeadTable was calibrated on a Qwen2_5Omni"),
        *(
            [
                ([*eval_args, "--data", data, "--device", "cuda"], "device 'cuda' asked for, but torch sees no CUDA"),
                ([*eval_args, "--data", data, "--attn", "flash_attention_2"], "attention 'flash_attention_2' needs"),
            ]
            if not torch.cuda.is_available()
            else []
        ),
        (["calibrate", "--model", model, "--data", str(root / "none.jsonl"), "--out", out], "calibration data file"),
        (
            ["calibrate", "--model", model, "--builtin", "--tasks", "nope", "--out", out],
            "--builtin has no task of task type ['nope']",
        ),  # fmt: skip
        (["inspect", str(root / "none"), "--out", str(root / "h.png")], f"{root / 'none'}/head_table.safetensors not"),
        (["show", str(root / "none.wav"), "--model", model], f"clip {root / 'none.wav'}: neither an audio file"),
        (
            ["tasks", "--out", out, "--per-task", "1", "--tasks", "keyword_needle", "--max-seconds", "4"],
            "max_seconds must be at least 6 (the shortest clip of task keyword_needle), got 4",
        ),  # fmt: skip
        (
            ["bench", "--quick", "--no-memory", "--no-plot", "--config", str(root / "none.json"), "--out", out],
            "[Errno 2] No such file or directory",
        ),  # fmt: skip
    ]


def test_every_subcommand_fails_the_same_way_before_loading_a_model(checkpoint, tmp_path, monkeypatch, capsys):

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the input was checked")

    monkeypatch.setattr(loading, "load_model", no_model)
    for argv, message in failing_commands(checkpoint, tmp_path):
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(f"headrouter {argv[0]}: error: {message}"), (argv, err)
        assert err.count("\n") == 1 and "Traceback" not in err, err  # one line, no traceback
        assert not (tmp_path / "out" / "items.jsonl").exists()


def test_demo_with_another_model_uses_no_shipped_table_and_takes_its_own(checkpoint, tmp_path, capsys):
    argv = ["demo", "--model", checkpoint["model"], "--data", checkpoint["data"], "--methods", "headrouter"]
    argv += ["--keep", "0.5", "--limit", "1", "--max-new-tokens", "1"]
    assert cli.main(argv) == 0
    assert "headrouter's head table: none (calibration-free fallback)" in capsys.readouterr().out
    table = calibrated_table(checkpoint, tmp_path / "table")
    assert cli.main([*argv, "--table", str(table)]) == 0
    assert f"headrouter's head table: {table}" in capsys.readouterr().out


def test_eval_and_show_default_to_every_method_and_wraps_default():
    args = cli.build_parser().parse_args(["eval", "--model", "m", "--data", "d"])
    assert args.methods == [*headrouter.available_methods(), "headrouter[diversity=0.95]"]
    args = cli.build_parser().parse_args(["show", "clip"])
    assert args.methods[-2:] == ["headrouter", "headrouter[diversity=0.95]"]
