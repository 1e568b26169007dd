"""Every registered method passes the same suite; each method's own rule is checked by hand."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from conftest import prompts_mixed

import headrouter
from headrouter.adapters.qwen2_5_omni import tiny
from headrouter.methods import method_from_config


def run(model, inputs, **kwargs):
    with headrouter.pruning(model, **kwargs) as router, torch.no_grad():
        model(**inputs)
        return [r.kept_positions for r in router.records]


@pytest.mark.parametrize("method", headrouter.available_methods())
@pytest.mark.parametrize("keep_ratio", [0.05, 0.5, 1.0])
def test_shared_method_suite(models, method, keep_ratio):
    model = models["sdpa"]
    prompts = prompts_mixed()
    batch = tiny.encode(prompts)
    kept = run(model, batch, keep_ratio=keep_ratio, method=method)
    audio = batch["input_ids"] == tiny.AUDIO_TOKEN
    for positions, row in zip(kept, audio, strict=True):
        n = int(row.sum())
        assert len(positions) == (max(1, math.ceil(keep_ratio * n)) if n else 0)
        assert positions == sorted(set(positions)) and all(row[p] for p in positions)
    # deterministic, and a sample's choice does not depend on its batch neighbours
    assert run(model, batch, keep_ratio=keep_ratio, method=method) == kept
    width = batch["input_ids"].shape[1]
    for i, prompt in enumerate(prompts):
        alone = tiny.encode([prompt])
        shift = width - alone["input_ids"].shape[1]
        assert [p + shift for p in run(model, alone, keep_ratio=keep_ratio, method=method)[0]] == kept[i]


@pytest.mark.parametrize("method", headrouter.available_methods())
def test_every_method_reports_only_what_it_declares(models, batch, method):
    scorer = headrouter.get_method(method)
    with headrouter.pruning(models["sdpa"], keep_ratio=0.3, method=scorer) as router, torch.no_grad():
        models["sdpa"](**batch)
    for record in router.records:
        assert set(record.details) <= set(scorer.reports)


@pytest.mark.parametrize("method", headrouter.available_methods())
def test_every_default_config_round_trips(models, method):
    scorer = headrouter.get_method(method)
    config = headrouter.PruningConfig(0.5, 3, method, scorer.settings())
    settings = {k: v for k, v in scorer.config().items() if k != "name"}
    assert config.to_dict() == {"keep_ratio": 0.5, "prune_layer": 3, "method": method, "method_kwargs": settings}
    again = headrouter.PruningConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.to_dict() == config.to_dict()
    assert method_from_config(scorer.config()) == scorer
    assert headrouter.get_method(method, **again.method_kwargs) == scorer
    with headrouter.pruning(models["sdpa"], keep_ratio=0.5, prune_layer=3, method=method) as router:
        assert router.config == config


def test_configs_and_reprs_come_from_the_settings():
    expected = {
        "dart": {"name": "dart", "audio_pivots": 4, "text_pivots": 4, "pivot_norm": "key"},
        "fastv": {"name": "fastv"},
        "frame": {"name": "frame"},
        "headrouter": {
            "name": "headrouter",
            "table": None,
            "task": "auto",
            "temperature": 0.1,
            "debias": True,
            "uniform_heads": False,
            "route_on": "behaviour",
            "text_match": "nearest",
            "layers": 1,
        },
        "random": {"name": "random", "seed": 0},
        "segment": {"name": "segment", "segments": 10, "inner": {"name": "fastv"}},
    }
    assert {m: headrouter.get_method(m).config() for m in expected} == expected
    assert repr(headrouter.get_method("random", seed=3)) == "RandomSelection(seed=3)"
    assert repr(headrouter.get_method("segment", segments=4)) == "SegmentTopK(segments=4, inner=FastV())"
    assert headrouter.get_method("dart", text_pivots=2).config()["text_pivots"] == 2


def test_a_setting_that_is_not_data_is_refused_by_config_but_held_by_wrap(models):
    @dataclasses.dataclass(repr=False)
    class Weighted(headrouter.ScoringMethod):
        name = "weighted-test"
        weights: torch.Tensor = dataclasses.field(default_factory=lambda: torch.ones(2))

        def score(self, ctx):
            return torch.zeros(ctx.audio_mask.shape)

    method = Weighted()
    with pytest.raises(ValueError) as raised:
        method.config()
    assert str(raised.value) == "method 'weighted-test', setting 'weights': a Tensor cannot be written as data"
    with headrouter.pruning(models["sdpa"], method=method) as router:
        assert router.config.method_kwargs["weights"] is method.weights  # held as the object
        with pytest.raises(ValueError, match="^method 'weighted-test', setting 'weights': a Tensor cannot be"):
            router.config.to_dict()


def test_a_method_config_must_name_its_method():
    with pytest.raises(TypeError, match="a method config must be a dict with a 'name'"):
        method_from_config({"seed": 3})
    assert method_from_config({"name": "random", "seed": 3}) == headrouter.get_method("random", seed=3)


def test_fastv_keeps_top_mean_head_attention_of_last_token(models, single):
    model = models["eager"]
    with torch.no_grad():
        attention = model(**single, output_attentions=True).attentions[1]  # layer K-1 for K = 2
    scores = attention[0, :, -1].mean(0)  # mean over heads of the last token's row
    audio = (single["input_ids"][0] == tiny.AUDIO_TOKEN).nonzero().squeeze(-1)
    k = math.ceil(0.3 * audio.numel())
    expected = sorted(audio[scores[audio].topk(k).indices].tolist())
    assert run(model, single, keep_ratio=0.3, method="fastv", prune_layer=2)[0] == expected


def test_frame_is_evenly_strided(models, single):
    audio = (single["input_ids"][0] == tiny.AUDIO_TOKEN).nonzero().squeeze(-1).tolist()
    assert len(audio) == 75
    # k = ceil(0.2 * 75) = 15; ranks floor((i + 0.5) * 75 / 15) = 2, 7, 12, ..., 72
    expected = [audio[2 + 5 * i] for i in range(15)]
    assert run(models["sdpa"], single, keep_ratio=0.2, method="frame")[0] == expected


def test_random_is_seeded(models, single):
    model = models["sdpa"]
    a = run(model, single, keep_ratio=0.3, method="random", seed=1)
    assert run(model, single, keep_ratio=0.3, method="random", seed=1) == a
    assert run(model, single, keep_ratio=0.3, method="random", seed=2) != a
    generator = torch.Generator().manual_seed(1)
    audio = (single["input_ids"][0] == tiny.AUDIO_TOKEN).nonzero().squeeze(-1)
    expected = sorted(audio[torch.rand(75, generator=generator).topk(23).indices].tolist())
    assert a[0] == expected


def test_a_method_object_plugs_in(models, single):
    class Earliest(headrouter.ScoringMethod):
        name = "earliest"

        def score(self, ctx):
            return -torch.arange(ctx.audio_mask.shape[1], dtype=torch.float32).expand(ctx.audio_mask.shape)

    audio = (single["input_ids"][0] == tiny.AUDIO_TOKEN).nonzero().squeeze(-1).tolist()
    assert run(models["sdpa"], single, keep_ratio=0.1, method=Earliest())[0] == audio[:8]


def test_a_method_that_breaks_the_contract_is_caught(models, single):
    class DropsText(headrouter.ScoringMethod):
        name = "drops-text"

        def select(self, ctx, counts):
            return torch.zeros_like(ctx.audio_mask)

    class NaNs(headrouter.ScoringMethod):
        name = "nans"

        def score(self, ctx):
            return torch.full(ctx.audio_mask.shape, float("nan"))

    with pytest.raises(RuntimeError, match="dropped non-audio tokens"):
        run(models["sdpa"], single, keep_ratio=0.5, method=DropsText())
    with pytest.raises(RuntimeError, match="non-finite scores"):
        run(models["sdpa"], single, keep_ratio=0.5, method=NaNs())


def test_register_method_requires_a_name():
    class Nameless(headrouter.ScoringMethod):
        pass

    with pytest.raises(ValueError, match="non-empty class attribute `name`"):
        headrouter.register_method(Nameless)


@pytest.mark.parametrize(
    ("seed", "error", "message"),
    [
        ("a", TypeError, "seed must be an int, got str 'a'"),
        (True, TypeError, "seed must be an int, got bool True"),
        (1.5, TypeError, "seed must be an int, got float 1.5"),
        (
            2**64,
            ValueError,
            "seed must be an int from -2**63 to 2**64 - 1 (torch's seed range), got 18446744073709551616",
        ),
    ],
)
def test_random_seed_is_checked_at_wrap_time(models, seed, error, message):
    model = models["sdpa"]
    with pytest.raises(error) as raised:
        headrouter.wrap(model, method="random", seed=seed)
    assert str(raised.value) == message
    assert not hasattr(model, "headrouter")  # refused before anything was attached
    assert headrouter.get_method("random", seed=np.int64(3)).seed == 3  # numpy ints are ints


def test_a_taken_name_is_refused_and_the_same_class_is_not(monkeypatch):
    from headrouter.methods import FastV, base

    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))  # whatever happens here stays here

    class Impostor(headrouter.ScoringMethod):
        name = "fastv"

    with pytest.raises(ValueError) as raised:
        headrouter.register_method(Impostor)
    assert str(raised.value) == (
        "method name 'fastv' is already registered by headrouter.methods.fastv.FastV; "
        f"give {Impostor.__module__}.{Impostor.__qualname__} another `name`"
    )
    assert type(headrouter.get_method("fastv")) is FastV
    assert headrouter.register_method(FastV) is FastV  # the same class again: fine, nothing changes

    class Custom(headrouter.ScoringMethod):
        name = "custom-test"

    headrouter.register_method(Custom)
    assert headrouter.register_method(Custom) is Custom and "custom-test" in headrouter.available_methods()


@pytest.mark.parametrize(
    ("method", "settings", "message"),
    [
        ("fastv", {"sed": 3}, "unknown setting(s) sed for method 'fastv'; fastv takes no settings"),
        ("random", {"sed": 3}, "unknown setting(s) sed for method 'random'; random takes: seed"),
        (
            "segment",
            {"inner": "fastv", "_scorer": None, "segmnets": 2},
            "unknown setting(s) _scorer, segmnets for method 'segment'; segment takes: segments, inner",
        ),
    ],
)
def test_unknown_settings_list_the_valid_ones(models, method, settings, message):
    with pytest.raises(TypeError) as raised:
        headrouter.get_method(method, **settings)
    assert str(raised.value) == message
    with pytest.raises(TypeError) as raised:
        headrouter.wrap(models["sdpa"], method=method, **settings)
    assert str(raised.value) == message


def test_get_method_takes_a_spec_and_keywords_beside_it():
    assert headrouter.get_method("segment[segments=4]") == headrouter.get_method("segment", segments=4)
    method = headrouter.get_method("fastv[smooth=0.25]", diversity=0.5)
    assert (method.smooth, method.diversity) == (0.25, 0.5)
    with pytest.raises(TypeError, match=r"setting\(s\) smooth given both in the method spec 'fastv\[smooth=0.25\]'"):
        headrouter.get_method("fastv[smooth=0.25]", smooth=0.5)
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        headrouter.get_method("nope[seed=1]")
    with pytest.raises(ValueError, match="expected NAME or NAME"):
        headrouter.get_method("fastv[smooth=0.25")
