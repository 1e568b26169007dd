"""The benchmark's code path once at tiny shapes: figures consistent, counts exact, report complete (no timing)."""

from __future__ import annotations

import argparse
import json
import math

import pytest
import torch

from headrouter import bench, cli
from headrouter.adapters import adapter_for
from headrouter.adapters.qwen2_5_omni import tiny
from headrouter.bench import flops
from headrouter.bench import run as bench_run

LENGTHS = (20, 45)
KEEP = (1.0, 0.5, 0.3)
METHODS = ("fastv", "headrouter")
TEXT = bench.TEXT_BEFORE + bench.TEXT_AFTER + 2  # text tokens plus <audio_bos> and <audio_eos>


@pytest.fixture(scope="module")
def config_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "thinker.json"
    tiny.tiny_thinker_config(num_layers=4).to_json_file(path)
    return str(path)


@pytest.fixture(scope="module")
def results(config_path):
    settings = bench.BenchSettings(
        lengths=LENGTHS,
        keep_ratios=KEEP,
        methods=METHODS,
        runs=2,
        decode_tokens=3,
        config_path=config_path,
        progress=False,
    )
    return bench.run_benchmark(settings)


def wrapped(results):
    return [c for c in results["cells"] if c["method"] != "none"]


def expected_kept(keep: float, n: int) -> int:
    return math.ceil(round(keep * n, 9))


# ---------------------------------------------------------------------- the run's figures


def test_grid_is_complete(results):
    cells = {(c["audio_tokens"], c["method"], c["keep_ratio"]) for c in results["cells"]}
    expected = {(n, m, r) for n in LENGTHS for m in METHODS for r in KEEP} | {(n, "none", None) for n in LENGTHS}
    assert cells == expected
    assert len(results["cells"]) == len(expected)
    assert [item["audio_tokens"] for item in results["lengths"]] == list(LENGTHS)


def test_ideal_speedup_is_at_least_one_and_one_at_keep_one(results):
    for cell in results["cells"]:
        assert cell["ideal_speedup"] >= 1.0
        if cell["keep_ratio"] in (None, 1.0):
            assert cell["ideal_speedup"] == 1.0
    for cell in wrapped(results):
        if cell["keep_ratio"] < 1.0:
            assert cell["ideal_speedup"] > 1.0
            assert cell["measured_over_ideal"] == pytest.approx(cell["speedup"] / cell["ideal_speedup"])


def test_speedup_is_against_keep_one_of_the_same_method(results):
    for cell in wrapped(results):
        full = next(
            c
            for c in results["cells"]
            if c["audio_tokens"] == cell["audio_tokens"] and c["method"] == cell["method"] and c["keep_ratio"] == 1.0
        )
        assert cell["speedup"] == pytest.approx(full["prefill_ms"] / cell["prefill_ms"])
    assert all(c["speedup"] is None for c in results["cells"] if c["method"] == "none")


def test_token_counts_are_text_plus_ceil_of_ratio_times_audio(results):
    for cell in results["cells"]:
        n = cell["audio_tokens"]
        assert cell["tokens_before"] == n + TEXT
        keep = cell["keep_ratio"] if cell["keep_ratio"] is not None else 1.0
        assert cell["audio_tokens_after"] == expected_kept(keep, n)
        assert cell["tokens_after"] == expected_kept(keep, n) + TEXT


def test_kv_bytes_equal_the_ideal_exactly(results):
    shape = flops.DecoderShape(**results["model"]["decoder"])
    k = results["model"]["prune_layer"]
    for cell in results["cells"]:
        assert cell["kv_bytes"] == cell["kv_bytes_ideal"]
        assert cell["kv_error"] == 0.0
        split = 0 if cell["method"] == "none" else k
        per_token_layer = 2 * shape.num_kv_heads * shape.head_dim * 2  # keys and values, bfloat16
        layers = split * cell["tokens_before"] + (shape.num_layers - split) * cell["tokens_after"]
        assert cell["kv_bytes"] == per_token_layer * layers


def test_scoring_figures_are_recorded(results):
    for cell in wrapped(results):
        assert cell["scoring_ms"] > 0 and cell["scoring_share"] > 0
        memory = cell["scoring_memory"]
        assert cell["scoring_peak_bytes"] == memory["peak_bytes"] > 0
        assert memory["peak_bytes"] >= memory["capture_peak_bytes"]
        assert cell["decode_ms_per_token"] > 0
    for item in results["lengths"]:
        ref = item["reference"]
        seq = item["sequence_tokens"]
        heads = results["model"]["decoder"]["num_heads"]
        assert ref["weights_bytes"] == ref["analytic_weights_bytes"] == heads * seq * seq * 2
        assert ref["eager_peak_bytes"] > ref["sdpa_peak_bytes"] > 0
        assert ref["extra_bytes"] == ref["eager_peak_bytes"] - ref["sdpa_peak_bytes"]


def test_targets_cover_the_four_figures(results):
    names = [t["name"] for t in results["targets"]]
    assert names == ["speedup_vs_ideal", "scoring_time_share", "scoring_memory_share", "kv_bytes_error"]
    by_name = {t["name"]: t for t in results["targets"]}
    assert by_name["kv_bytes_error"]["value"] == 0.0 and by_name["kv_bytes_error"]["met"] is True
    for name in ("speedup_vs_ideal", "scoring_time_share", "scoring_memory_share"):  # 3000/7500 not in this grid
        assert by_name[name]["value"] is None and by_name[name]["met"] is None


# ---------------------------------------------------------------------- the report


def test_json_schema(results, tmp_path):
    paths = bench.write_report(results, tmp_path, "tiny", plot=False)
    data = json.loads(paths["json"].read_text())
    assert data["schema"] == bench.SCHEMA
    for key in ("created", "machine", "model", "settings", "prompt", "lengths", "cells", "targets", "notes"):
        assert key in data
    assert isinstance(data["total_seconds"], float)
    for key in ("cpu", "cores", "torch", "transformers", "torch_threads"):
        assert key in data["machine"]
    for key in ("decoder", "dtype", "attn_implementation", "prune_layer", "layer_split", "vocab_size"):
        assert key in data["model"]
    types = {
        "audio_tokens": int,
        "method": str,
        "tokens_before": int,
        "tokens_after": int,
        "audio_tokens_after": int,
        "prefill_ms": float,
        "prefill_ms_runs": list,
        "speedup_vs_unwrapped": float,
        "ideal_speedup": float,
        "gflops": float,
        "kv_bytes": int,
        "kv_bytes_ideal": int,
        "kv_error": float,
        "decode_ms_per_token": float,
    }
    for cell in data["cells"]:
        for key, kind in types.items():
            assert isinstance(cell[key], kind), (key, cell[key])
        assert len(cell["prefill_ms_runs"]) == 2
        if cell["method"] != "none":
            for key in ("keep_ratio", "speedup", "measured_over_ideal", "scoring_ms", "scoring_share"):
                assert isinstance(cell[key], float), key
            assert isinstance(cell["scoring_peak_bytes"], int)
    for target in data["targets"]:
        assert set(target) == {"name", "description", "comparison", "target", "value", "met"}


def test_markdown_has_one_row_per_cell(results, tmp_path):
    text = bench.write_report(results, tmp_path, "tiny", plot=False)["markdown"].read_text()
    tables = [block for block in text.split("\n\n") if block.startswith("| audio tokens | method |")]
    assert len(tables) == 1
    rows = tables[0].splitlines()[2:]
    assert len(rows) == len(results["cells"])
    assert sum(row.startswith("| 20 | unwrapped |") for row in rows) == 1
    assert "## Targets" in text and "no `input_features`" in text


def test_plot_is_written(results, tmp_path):
    pytest.importorskip("matplotlib")
    paths = bench.write_report(results, tmp_path, "tiny", plot=True)
    assert paths["plot"].stat().st_size > 0


# ---------------------------------------------------------------------- the FLOP model


def test_flop_formula_by_hand():
    shape = flops.DecoderShape(
        hidden_size=4, num_heads=2, num_kv_heads=1, head_dim=2, intermediate_size=8, num_layers=3
    )
    # per token: q 4*4 + k 4*2 + v 4*2 + o 4*4 + MLP 3*4*8 = 144 multiply-adds = 288 FLOPs
    assert flops.linear_flops(shape, 3) == 3 * 288
    # causal: 3*4/2 = 6 query-key pairs, per pair and head 2 FLOPs * d for Q.K and again for A.V: 6 * 2 * 2 * 2 * 2
    assert flops.attention_flops(shape, 3) == 96
    assert flops.layer_flops(shape, 3) == 960
    # K = 1: one layer on 3 tokens, two on 1 token (linear 288, attention 2*2*2*1*2 = 16)
    assert flops.prefill_flops(shape, 3, 1, 1) == 960 + 2 * (288 + 16)
    assert flops.ideal_speedup(shape, 3, 1, 1) == pytest.approx(3 * 960 / (960 + 2 * 304))
    assert flops.ideal_speedup(shape, 3, 3, 1) == 1.0
    # keys and values: 2 * kv heads 1 * head dim 2 * 2 bytes per token and layer
    assert flops.kv_cache_bytes(shape, 3, 1, 1, itemsize=2) == 8 * (1 * 3 + 2 * 1)


def test_sliding_window_and_mixture_flops_by_hand():
    shape = flops.DecoderShape(
        hidden_size=4, num_heads=2, num_kv_heads=1, head_dim=2, intermediate_size=8, num_layers=3,
        sliding_window=2, sliding_layers=(0, 2),
    )  # fmt: skip
    # window 2 over 3 tokens: query 1 sees 1 key, queries 2 and 3 see 2 -> 5 pairs (not 6), 2 * 2 * H 2 * d 2 each
    assert flops.attention_flops(shape, 3, window=2) == 5 * 16
    assert flops.layer_flops(shape, 3, layer=0) == 3 * 288 + 80
    assert flops.layer_flops(shape, 3, layer=1) == 960  # full attention
    # K = 1: sliding layer 0 on 3 tokens; full layer 1 and sliding layer 2 on 1 token (1 pair either way)
    assert flops.prefill_flops(shape, 3, 1, 1) == (3 * 288 + 80) + 2 * (288 + 16)
    with pytest.raises(ValueError, match="need a sliding_window"):
        flops.DecoderShape(4, 2, 1, 2, 8, 3, sliding_layers=(0,))


def test_decoder_shape_reads_mixtures_and_sliding_layers():
    from transformers import Gemma3nTextConfig, Qwen2Config, Qwen3MoeConfig

    moe = Qwen3MoeConfig(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
        intermediate_size=512, moe_intermediate_size=32, num_experts=8, num_experts_per_tok=3,
    )  # fmt: skip
    assert flops.DecoderShape.from_config(moe).intermediate_size == 3 * 32  # the experts a token runs, not the dense
    sliding = Qwen2Config(
        hidden_size=64, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, intermediate_size=128,
        use_sliding_window=True, sliding_window=16, max_window_layers=1,
    )  # fmt: skip
    shape = flops.DecoderShape.from_config(sliding)
    assert (shape.sliding_window, shape.sliding_layers) == (16, (1, 2))
    per_layer = Gemma3nTextConfig(
        hidden_size=64, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
        intermediate_size=[128, 256, 384], layer_types=["full_attention"] * 3,
    )  # fmt: skip
    assert flops.DecoderShape.from_config(per_layer).intermediate_size == 256  # one width per layer: their mean
    assert flops.DecoderShape(**json.loads(json.dumps(shape.to_dict()))) == shape  # results JSON round-trips


def test_decoder_shape_of_the_builtin_model():
    adapter_class = bench.family_adapter(bench.DEFAULT_FAMILY)
    with torch.device("meta"):  # the widths, not the weights
        model = adapter_class.random_model("3B", num_layers=6)
    shape = flops.DecoderShape.from_config(adapter_for(model).text_config)
    assert shape == flops.DecoderShape(2048, 16, 2, 128, 11008, 6)
    with pytest.raises(ValueError):
        flops.prefill_flops(shape, 10, 5, 7)


# ---------------------------------------------------------------------- settings, arguments, memory limits


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(argv)


def test_arguments_and_quick():
    settings = bench.settings_from_args(parse())
    assert settings.lengths == bench.DEFAULT_LENGTHS and settings.keep_ratios == bench.DEFAULT_KEEP_RATIOS
    assert settings.runs == 5 and settings.decode_tokens == 32 and settings.dtype == "bfloat16"
    assert settings.prune_layer == bench.DEFAULT_BENCH_PRUNE_LAYER and settings.num_layers is None
    assert bench.settings_from_args(parse("--config", "x.json")).prune_layer == 2  # the library default
    assert bench.settings_from_args(parse("--layers", "6", "--prune-layer", "2")).prune_layer == 2
    quick = bench.settings_from_args(parse("--quick", "--runs", "2"))
    assert quick.lengths == bench.QUICK_LENGTHS and quick.runs == 2
    custom = bench.settings_from_args(parse("--keep", "0.3,0.5", "--methods", "fastv", "--lengths", "100"))
    assert custom.keep_ratios == (1.0, 0.5, 0.3) and custom.methods == ("fastv",) and custom.lengths == (100,)


def test_family_and_shape_arguments():
    settings = bench.settings_from_args(parse("--family", "qwen2_5_omni", "--shape", "7B"))
    assert (settings.family, settings.shape) == ("qwen2_5_omni", "7B")
    default = bench.settings_from_args(parse())
    assert (default.family, default.shape) == (bench.DEFAULT_FAMILY, None)
    with pytest.raises(ValueError, match="no published shape '1B'.*known: 3B, 7B"):
        bench.settings_from_args(parse("--shape", "1B"))


@pytest.mark.parametrize(
    "argv",
    [("--family", "nope"), ("--keep", "0"), ("--keep", "1.5"), ("--methods", "nope"), ("--runs", "0"),
     ("--lengths", "a"), ("--decode-tokens", "1"), ("--config", "a", "--model", "b"), ("--dtype", "int8"),
     ("--methods", "fastv[diversity=2]")],
)  # fmt: skip
def test_bad_arguments_are_rejected(argv, capsys):
    with pytest.raises(SystemExit):
        parse(*argv)


def test_layers_only_with_the_builtin_model():
    with pytest.raises(ValueError, match="built-in"):
        bench.BenchSettings(num_layers=6, config_path="x.json")


def test_family_and_shape_are_checked():
    settings = bench.BenchSettings()
    assert settings.family == bench.DEFAULT_FAMILY and settings.shape is None
    assert bench.family_adapter(settings.family).family == settings.family
    with pytest.raises(ValueError, match="unknown model family 'nope'; known: qwen2_5_omni"):
        bench.BenchSettings(family="nope")
    with pytest.raises(ValueError, match="no published shape '1B'"):
        bench.BenchSettings(shape="1B")
    with pytest.raises(ValueError, match="built-in"):
        bench.BenchSettings(shape="7B", config_path="x.json")
    assert bench.BenchSettings(model_path="x").family is None  # a checkpoint's family comes from its config.json


def test_a_checkpoint_is_benchmarked_through_its_adapter():
    from headrouter.evaluation.demo import SHIPPED_MODEL

    model, info = bench.load_model(bench.BenchSettings(model_path=str(SHIPPED_MODEL), dtype="float32"))
    assert adapter_for(model).forward_module is model and not model.training
    assert info["family"] == bench.DEFAULT_FAMILY and info["random_weights"] is False
    assert info["source"] == f"checkpoint {SHIPPED_MODEL}" and model.dtype == torch.float32
    inputs = bench.make_inputs(model, 5)
    assert int(adapter_for(model).audio_mask(inputs["input_ids"]).sum()) == 5


def test_sizes_beyond_memory_are_skipped_with_a_note(config_path, monkeypatch):
    monkeypatch.setattr(bench_run, "available_memory", lambda device: 1)
    settings = bench.BenchSettings(lengths=(20,), keep_ratios=(1.0,), methods=("fastv",), runs=1, decode_tokens=0,
                                   config_path=config_path, progress=False)  # fmt: skip
    results = bench.run_benchmark(settings)
    assert results["cells"] == [] and results["lengths"][0]["skipped"]
    assert "skipped" in results["notes"][0]
    assert "skipped" in bench.format_markdown(results)


def test_reference_alone_is_skipped_when_it_does_not_fit(config_path, monkeypatch):
    shape = flops.DecoderShape.from_config(tiny.tiny_thinker_config(num_layers=4).text_config)
    seq = 400 + TEXT
    prefill = bench.estimate_prefill_bytes(shape, 256, seq, 2)
    reference = bench.estimate_reference_bytes(shape, seq, 2)
    assert reference > prefill
    # 80% of it: prefill fits, reference not
    monkeypatch.setattr(bench_run, "available_memory", lambda device: int(reference))
    settings = bench.BenchSettings(lengths=(400,), keep_ratios=(1.0, 0.5), methods=("fastv",), runs=1,
                                   decode_tokens=0, config_path=config_path, progress=False)  # fmt: skip
    results = bench.run_benchmark(settings)
    assert len(results["cells"]) == 3 and results["lengths"][0]["reference"] is None
    assert "reference skipped" in results["notes"][0]
    assert all(c["scoring_peak_share"] is None for c in results["cells"])


def test_bench_command_prints_the_report_and_writes_files(config_path, tmp_path, capsys):
    args = ["--config", config_path, "--lengths", "20", "--keep", "1,0.5", "--methods", "fastv", "--runs", "1",
            "--decode-tokens", "0", "--out", str(tmp_path), "--name", "run", "--no-plot"]  # fmt: skip
    assert cli.main(["bench", *args]) == 0
    out = capsys.readouterr().out
    assert "Targets:" in out and "| 20 | fastv | 0.5 |" in out
    assert (tmp_path / "run.json").exists() and (tmp_path / "run.md").exists()
    assert str(tmp_path / "run.json") in out


def test_methods_are_specs_and_a_table_needs_one_that_uses_it():
    settings = bench.BenchSettings(methods=("fastv", "headrouter[diversity=0.95]"), table="some/table")
    assert settings.methods == ("fastv", "headrouter[diversity=0.95]")
    with pytest.raises(ValueError, match="unknown setting"):
        bench.BenchSettings(methods=("fastv[nope=1]",))
    with pytest.raises(ValueError, match="a head table is for methods that use one"):
        bench.BenchSettings(methods=("fastv[diversity=0.5]",), table="some/table")
