"""The end-to-end benchmark (``--with-audio-tower``) at tiny shapes: the tower runs on features that make exactly N
audio tokens, the figures are consistent and hand-checkable, and headrouter is timed with a calibrated table."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from headrouter import bench
from headrouter.adapters import Qwen2_5OmniAdapter, adapter_for
from headrouter.adapters.qwen2_5_omni import bench as omni_bench
from headrouter.adapters.qwen2_5_omni import tiny
from headrouter.bench import run as bench_run
from headrouter.bench.measure import ModuleSeconds
from headrouter.bench.settings import default_tower_layers
from headrouter.bench.table import bench_table

LENGTHS = (20, 45)


@pytest.fixture(scope="module")
def config_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench_e2e") / "thinker.json"
    tiny.tiny_thinker_config(num_layers=4).to_json_file(path)
    return str(path)


def settings(config_path, **overrides):
    values = dict(
        lengths=LENGTHS,
        keep_ratios=(1.0, 0.5),
        methods=("fastv", "headrouter"),
        runs=2,
        decode_tokens=3,
        config_path=config_path,
        with_audio_tower=True,
        progress=False,
    )
    values.update(overrides)
    return bench.BenchSettings(**values)


@pytest.fixture(scope="module")
def results(config_path):
    return bench.run_benchmark(settings(config_path))


def test_feature_prompt_makes_exactly_n_audio_tokens(config_path):
    model = Qwen2_5OmniAdapter.random_model_from_config(config_path)
    adapter = adapter_for(model)
    counts = []
    hook = adapter.audio_tower.register_forward_hook(lambda m, a, out: counts.append(out.last_hidden_state.shape[0]))
    try:
        for n in (1, 7, 50, 51, 130):  # the tower works in windows of 100 frames = 25 tokens
            prompt = adapter.feature_prompt(n, text_before=3, text_after=5, seed=n)
            assert prompt["input_features"].shape[-1] == omni_bench.FRAMES_PER_TOKEN * n
            assert int(adapter.audio_mask(prompt["input_ids"]).sum()) == n
            with torch.no_grad():
                model(**prompt)  # transformers checks that the tower's embeddings fill the placeholders
            assert counts[-1] == n
    finally:
        hook.remove()


def test_builtin_tower_has_the_published_widths_and_scaled_depth():
    adapter = Qwen2_5OmniAdapter
    config = omni_bench.thinker_config(
        omni_bench.PUBLISHED_SHAPES["3B"], 2, audio_tower={**omni_bench.PUBLISHED_AUDIO_TOWERS["3B"], "num_layers": 1}
    ).audio_config
    assert (config.d_model, config.encoder_attention_heads, config.encoder_ffn_dim) == (1280, 20, 5120)
    assert (config.encoder_layers, config.output_dim, config.num_mel_bins) == (1, 2048, 128)
    # 32 tower layers per 36 decoder layers, kept at any depth (at least one)
    assert [default_tower_layers(adapter, "3B", n) for n in (2, 3, 9, 36)] == [2, 3, 8, 32]
    assert default_tower_layers(adapter, "7B", 28) == 32
    assert bench.BenchSettings(with_audio_tower=True).tower_layers == 3
    assert bench.BenchSettings(with_audio_tower=True, num_layers=36).tower_layers == 32


def test_every_cell_has_tower_and_decoder_times(results):
    assert results["prompt"]["audio_features"] is True
    for cell in results["cells"]:
        assert cell["tower_ms"] > 0 and 0 < cell["tower_share"] < 1
        # two runs: the median of differences is the difference of the medians
        assert cell["decoder_ms"] == pytest.approx(cell["prefill_ms"] - cell["tower_ms"])
        if cell["method"] == "none":
            assert cell["ideal_speedup"] == cell["decoder_ideal_speedup"] == 1.0 and cell["speedup"] is None
    for item in results["lengths"]:
        assert 0 < item["unpruned_tower_share"] < 1


def test_speedups_are_against_keep_one_and_the_ideal_is_amdahls(results):
    for cell in results["cells"]:
        if cell["method"] == "none":
            continue
        full = next(
            c
            for c in results["cells"]
            if c["method"] == cell["method"] and c["audio_tokens"] == cell["audio_tokens"] and c["keep_ratio"] == 1.0
        )
        share = full["tower_ms"] / full["prefill_ms"]
        ideal = 1 / (share + (1 - share) / cell["decoder_ideal_speedup"])
        assert cell["ideal_speedup"] == pytest.approx(ideal, rel=0.02)  # medians of 2 runs: ratio of means
        assert cell["speedup"] == pytest.approx(full["prefill_ms"] / cell["prefill_ms"])
        assert cell["decoder_speedup"] == pytest.approx(full["decoder_ms"] / cell["decoder_ms"])
        assert cell["measured_over_ideal"] == pytest.approx(cell["speedup"] / cell["ideal_speedup"])
        if cell["keep_ratio"] == 1.0:
            assert cell["ideal_speedup"] == pytest.approx(1.0) and cell["decoder_speedup"] == pytest.approx(1.0)
        else:  # the tower is not pruned: the end-to-end ideal is below the decoder's
            assert 1.0 < cell["ideal_speedup"] < cell["decoder_ideal_speedup"]


def test_end_to_end_figures_by_hand():
    cell = bench_run._Cell("fastv", 0.5, wall=[10.0, 12.0, 11.0], tower=[4.0, 4.0, 4.0])
    reference = bench_run._Cell("fastv", 1.0, wall=[20.0, 20.0, 20.0], tower=[5.0, 5.0, 5.0])
    figures = bench_run._end_to_end(cell, reference, decoder_ideal=2.0)
    assert figures["tower_ms"] == 4000 and figures["tower_share"] == pytest.approx(4 / 11)
    assert figures["decoder_ms"] == 7000
    assert figures["decoder_speedup"] == pytest.approx(15 / 7)
    assert figures["decoder_over_ideal"] == pytest.approx(15 / 14)
    assert figures["ideal_speedup"] == pytest.approx(1 / (0.25 + 0.75 / 2))  # 1.6
    unwrapped = bench_run._end_to_end(bench_run._Cell("none", None, wall=[2.0], tower=[1.0]), None, 1.0)
    assert unwrapped["ideal_speedup"] == 1.0 and unwrapped["decoder_speedup"] is None


def test_prefill_peak_memory_holds_at_least_the_cache(results):
    for cell in results["cells"]:
        assert cell["prefill_peak_bytes"] >= cell["kv_bytes"] > 0  # the cache is made during prefill and kept
        assert cell["scoring_peak_bytes"] is None  # end to end measures the whole prefill, not the scoring step
    assert all(item["reference"] is None for item in results["lengths"])


def test_headrouter_is_timed_with_a_calibrated_table(config_path, monkeypatch):
    used = []
    real_wrap = bench_run.wrap

    def spy(model, keep_ratio, **kwargs):
        used.append(kwargs["method"])
        return real_wrap(model, keep_ratio, **kwargs)

    monkeypatch.setattr(bench_run, "wrap", spy)
    results = bench.run_benchmark(
        settings(config_path, lengths=(20,), methods=("headrouter",), runs=1, decode_tokens=0, memory=False)
    )
    assert used and all(method.table is not None for method in used)
    assert used[0].table.tasks == ["semantic", "acoustic"]
    source = results["model"]["head_table"]["source"]
    assert source == "calibrated on the benchmark's prompts (2 prompts of 20 audio tokens)"


def test_a_given_table_is_used(config_path, tmp_path):
    base = settings(config_path, lengths=(20,), methods=("headrouter",), runs=1, decode_tokens=0, memory=False)
    model, _ = bench.load_model(base)
    table, info = bench_table(model, base)
    assert info["tasks"] == ["semantic", "acoustic"] and table.meta["model_class"] == type(model).__name__
    table.save_pretrained(tmp_path / "table")
    given = settings(
        config_path, lengths=(20,), methods=("headrouter",), runs=1, decode_tokens=0, memory=False,
        table=str(tmp_path / "table"),
    )  # fmt: skip
    results = bench.run_benchmark(given)
    assert results["model"]["head_table"]["source"] == f"table {tmp_path / 'table'}"


def test_report_shows_the_end_to_end_table(results, tmp_path):
    files = bench.write_report(results, tmp_path, plot=False)
    text = files["markdown"].read_text()
    assert "| tower ms (share) |" in text and "end-to-end ideal" in text and "Peak prefill memory" in text
    rows = [line for line in text.splitlines() if line.startswith(("| 20 |", "| 45 |"))]
    assert len(rows) == len(results["cells"]) == len(LENGTHS) * 5
    assert "calibrated on the benchmark's prompts" in text


def test_module_seconds_sums_the_calls_inside_the_context():
    class Sleeper(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            time.sleep(0.02)
            return x

    sleeper = Sleeper()
    with ModuleSeconds(sleeper) as clock:
        sleeper(torch.zeros(1))
        sleeper(torch.zeros(1))
    assert clock.seconds >= 0.04
    sleeper(torch.zeros(1))  # hooks are gone
    assert not sleeper._forward_hooks and not sleeper._forward_pre_hooks


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(tower_layers=3), "with the audio tower"),
        (dict(with_audio_tower=True, family="voxtral"), "no end-to-end benchmark model; with the audio tower: "),
        (dict(with_audio_tower=True, tower_layers=2, config_path="x.json"), "set it in the config"),
        (dict(with_audio_tower=True, tower_layers=0), ">= 1 layer"),
        (dict(table="x", methods=("fastv",)), "a head table is for methods that use one"),
    ],
)
def test_bad_end_to_end_settings_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        bench.BenchSettings(**overrides)


def test_cli_options_reach_the_settings():
    import argparse

    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--with-audio-tower", "--tower-layers", "5", "--layers", "4", "--table", "T"])
    settings = bench.settings_from_args(args)
    assert settings.with_audio_tower and settings.tower_layers == 5 and settings.table == "T" and settings.unwrapped
    assert not bench.settings_from_args(parser.parse_args(["--no-unwrapped"])).unwrapped
    assert settings.device == "cpu" or settings.device.startswith("cuda")


def test_without_the_unwrapped_cell_keep_one_is_the_unpruned_reference(config_path):
    results = bench.run_benchmark(
        settings(config_path, lengths=(20,), methods=("headrouter",), runs=1, decode_tokens=0, unwrapped=False)
    )
    cells = results["cells"]
    assert [(c["method"], c["keep_ratio"]) for c in cells] == [("headrouter", 1.0), ("headrouter", 0.5)]
    assert all(c["speedup_vs_unwrapped"] is None for c in cells)
    length = results["lengths"][0]
    assert length["unpruned_prefill_ms"] == cells[0]["prefill_ms"]
    assert length["unpruned_tower_share"] == pytest.approx(cells[0]["tower_ms"] / cells[0]["prefill_ms"])
    assert cells[1]["speedup"] == pytest.approx(cells[0]["prefill_ms"] / cells[1]["prefill_ms"])
