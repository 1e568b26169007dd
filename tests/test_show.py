"""What each method keeps of one clip (headrouter.kept_tokens), its picture (plot_kept) and ``headrouter show``: the
kept tokens are the router's own, at the times of their indices, ceil(r * n) per method; the figure has a row per
method under the audio; the command writes a PNG and refuses bad input before loading a model."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import soundfile
import torch
from test_evaluation import build_standin

import headrouter
from headrouter import cli
from headrouter.adapters.qwen2_5_omni import loading, tiny
from headrouter.audio import load_audio
from headrouter.evaluation.demo import SHIPPED_ITEMS
from headrouter.evaluation.runner import load_items

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

METHODS = headrouter.available_methods()
SECONDS = 2.0  # 50 audio tokens for the tiny processor (25 per second)
PROMPT = "Which note is played?"


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    root = tmp_path_factory.mktemp("show")
    model_dir = build_standin(root)
    clip = root / "tone.wav"
    soundfile.write(clip, tiny.tone(SECONDS, 330.0, seed=3), tiny.SAMPLE_RATE, subtype="FLOAT")  # exact samples
    model, processor = loading.load_model(model_dir), loading.load_processor(model_dir)
    return {"root": root, "model_dir": model_dir, "clip": clip, "model": model, "processor": processor}


def router_kept(model, processor, clip, method: str | headrouter.methods.ScoringMethod, keep: float) -> list[int]:
    """Audio token indices model.headrouter records for one prefill of (clip, PROMPT) under the same wrap."""
    inputs = headrouter.build_inputs(processor, [load_audio(clip, tiny.SAMPLE_RATE)], [PROMPT])
    positions = (inputs["input_ids"][0] == tiny.AUDIO_TOKEN).nonzero().squeeze(-1).tolist()
    headrouter.wrap(model, keep, method=method)
    try:
        with torch.inference_mode():
            model(**inputs)
        kept = model.headrouter.records[0].kept_positions
    finally:
        headrouter.unwrap(model)
    return [positions.index(p) for p in kept]


def shipped_clip_ids() -> list[str]:
    """The ids of the shipped demo clips."""
    return [item.id for item in load_items(SHIPPED_ITEMS)]


@pytest.mark.parametrize("keep", [0.3, 0.07])
def test_kept_tokens_are_the_routers_own_at_their_times(standin, keep):
    model, processor = standin["model"], standin["processor"]
    kept = headrouter.kept_tokens(model, processor, standin["clip"], PROMPT, METHODS, keep)
    assert kept.audio_tokens == 50 and kept.tokens_per_second == 25.0 and kept.seconds == SECONDS
    assert [m.method for m in kept.methods] == METHODS
    for method in kept.methods:
        assert method.indices == router_kept(model, processor, standin["clip"], method.method, keep), method.method
        assert len(method.indices) == math.ceil(keep * 50)  # 15 at 0.3, 4 at 0.07 (3.5 rounded up)
        assert method.starts == [i / 25.0 for i in method.indices]
    assert not hasattr(model, "headrouter")  # left unwrapped, as it came


def test_kept_tokens_takes_an_array_a_rate_and_leaves_a_wrapped_model_wrapped(standin):
    model, processor = standin["model"], standin["processor"]
    wav = tiny.tone(SECONDS, 330.0, seed=3)
    by_file = headrouter.kept_tokens(model, processor, standin["clip"], PROMPT, ["fastv"], 0.5)
    headrouter.wrap(model, 0.9, method="frame")
    router = model.headrouter
    try:
        kept = headrouter.kept_tokens(
            model, processor, wav, PROMPT, ["fastv"], 0.5, source_rate=tiny.SAMPLE_RATE, tokens_per_second=10.0
        )
        assert model.headrouter is router and router.attached and router.keep_ratio == 0.9
    finally:
        headrouter.unwrap(model)
    np.testing.assert_array_equal(kept.wav, by_file.wav)
    assert kept.methods[0].indices == by_file.methods[0].indices
    assert kept.methods[0].starts == [i / 10.0 for i in kept.methods[0].indices]


def test_kept_tokens_takes_method_specs_and_labels_them_as_written(standin):
    model, processor = standin["model"], standin["processor"]
    spec, diverse = "fastv[diversity=1.0]", headrouter.methods.FastV(diversity=1.0)
    kept = headrouter.kept_tokens(model, processor, standin["clip"], PROMPT, [spec, diverse], 0.3)
    assert [m.method for m in kept.methods] == [spec, "fastv"]
    assert (
        kept.methods[0].indices
        == kept.methods[1].indices
        == router_kept(model, processor, standin["clip"], diverse, 0.3)
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keep_ratio": 0.0}, "keep_ratio must be in (0, 1], got 0.0"),
        ({"keep_ratio": 1.5}, "keep_ratio must be in (0, 1], got 1.5"),
        ({"methods": []}, "methods must name at least one"),
        ({"tokens_per_second": 0.0}, "tokens_per_second must be > 0"),
        ({"methods": ["magic"]}, "unknown method 'magic'"),
    ],
)
def test_kept_tokens_refuses_bad_settings(standin, kwargs, message):
    arguments = {"methods": ["frame"], "keep_ratio": 0.5, **kwargs}
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        headrouter.kept_tokens(standin["model"], standin["processor"], standin["clip"], PROMPT, **arguments)


@pytest.mark.parametrize("audio", ["spectrogram", "waveform"])
def test_plot_kept_draws_the_audio_and_one_row_per_method(standin, audio):
    from matplotlib.figure import Figure

    kept = headrouter.kept_tokens(standin["model"], standin["processor"], standin["clip"], PROMPT, METHODS, 0.3)
    figure = headrouter.plot_kept(kept, audio=audio)
    assert isinstance(figure, Figure)
    axes = figure.get_axes()
    assert len(axes) == len(METHODS) + 1
    for ax, method in zip(axes[1:], METHODS, strict=True):
        assert ax.get_ylabel().split("\n")[0] == method
        bars = ax.collections[-1].get_paths()  # the kept tokens: one bar each, 1/25 s wide
        assert len(bars) == 15
    assert axes[-1].get_xlim() == (0.0, SECONDS)
    with pytest.raises(ValueError, match="audio must be one of spectrogram, waveform"):
        headrouter.plot_kept(kept, audio="sonogram")


def test_plot_kept_without_matplotlib_names_the_extra(standin, monkeypatch):
    kept = headrouter.kept_tokens(standin["model"], standin["processor"], standin["clip"], PROMPT, ["frame"], 0.5)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'headrouter\[plot\]'"):
        headrouter.plot_kept(kept)


def test_show_writes_a_png(standin, tmp_path, capsys):
    out = tmp_path / "kept.png"
    argv = ["show", str(standin["clip"]), "--model", str(standin["model_dir"]), "--methods", "frame,fastv"]
    assert cli.main([*argv, "--keep", "0.4", "--out", str(out), "--audio", "waveform"]) == 0
    assert capsys.readouterr().out == f"wrote {out}\n"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_show_a_shipped_clip_with_the_shipped_model_and_table(tmp_path, capsys):
    out = tmp_path / "kept.png"
    clip = shipped_clip_ids()[0]
    assert cli.main(["show", clip, "--methods", "headrouter", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "clip.wav", "--methods", "fastv,magic"], "unknown method(s) magic"),
        (["show", "clip.wav", "--methods", "fastv[diversity=2]"], "diversity must be None (off) or the weight"),
        (["show", "clip.wav", "--methods", "headrouter[oracle]"], "unknown setting(s) oracle for method 'headrouter'"),
        (["show", "clip.wav", "--methods", "fastv,fastv"], "methods must not repeat"),
        (["show", "clip.wav", "--keep", "0"], "must be in (0, 1], got 0"),
        (["show", "clip.wav", "--keep", "0.3,0.5"], "expected a number, got '0.3,0.5'"),
        (["show", "clip.wav", "--audio", "sonogram"], "invalid choice: 'sonogram'"),
        (["show"], "the following arguments are required: CLIP"),
    ],
)
def test_show_argument_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: headrouter show" in err and message in err


def test_show_refuses_a_missing_clip_or_model_before_loading_one(standin, tmp_path, monkeypatch, capsys):
    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the input was checked")

    monkeypatch.setattr(loading, "load_model", no_model)
    model = str(standin["model_dir"])
    missing = tmp_path / "none.wav"
    assert cli.main(["show", str(missing), "--model", model]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"headrouter show: error: clip {missing}: neither an audio file nor a shipped demo clip id")
    assert ", ".join(shipped_clip_ids()) in err
    assert cli.main(["show", str(standin["clip"]), "--model", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"headrouter show: error: {tmp_path / 'config.json'} not found\n"
    assert cli.main(["show", str(standin["clip"]), "--model", model, "--prune-layer", "4"]) == 2
    assert "prune_layer must be between 1 and 3" in capsys.readouterr().err
