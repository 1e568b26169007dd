"""wrap / unwrap / pruning, settings validation and the router's records."""

from __future__ import annotations

import copy
import io
import math

import pytest
import torch
from conftest import prompts_mixed

import headrouter
from headrouter.adapters.qwen2_5_omni import tiny


def hook_count(model) -> int:
    """headrouter's hooks on ``model``: those bound to a Pruner. transformers installs hooks of its own (e.g. an
    eager ``output_attentions=True`` call in 5.25 leaves some), which say nothing about wrapping."""
    hooks = [h for m in model.modules() for h in (*m._forward_pre_hooks.values(), *m._forward_hooks.values())]
    return sum(isinstance(getattr(h, "__self__", None), headrouter.Pruner) for h in hooks)


def logits(model, inputs):
    with torch.no_grad():
        return model(**inputs).logits


def test_unwrap_restores_exactly(model, batch):
    impl = model.config.text_config._attn_implementation
    before = logits(model, batch)
    assert hook_count(model) == 0
    headrouter.wrap(model, keep_ratio=0.3)
    assert hook_count(model) > 0
    assert not torch.allclose(logits(model, batch)[0, -1], before[0, -1])
    assert model.headrouter.records[0].audio_tokens_after == 23
    headrouter.unwrap(model)
    assert hook_count(model) == 0
    assert not hasattr(model, "headrouter")
    assert model.config.text_config._attn_implementation == impl
    assert torch.equal(logits(model, batch), before)


def test_unwrap_of_unwrapped_model_is_a_no_op(model):
    assert headrouter.unwrap(model) is model
    assert hook_count(model) == 0


def test_the_engine_s_old_name_still_works_with_a_warning():
    with pytest.warns(FutureWarning, match="headrouter.Pruner"):
        assert headrouter.HeadRouter is headrouter.Pruner


def test_wrap_returns_same_model_with_router(model):
    assert headrouter.wrap(model, keep_ratio=0.5) is model
    assert isinstance(model.headrouter, headrouter.Pruner)
    assert model.headrouter.keep_ratio == 0.5 and model.headrouter.prune_layer == 2


def test_wrapping_twice_replaces_settings(model, batch):
    headrouter.wrap(model, keep_ratio=0.5, method="random", seed=3)
    headrouter.wrap(model, keep_ratio=0.3, method="fastv", prune_layer=3)
    hooks = hook_count(model)
    twice = logits(model, batch)
    records = [r.kept_positions for r in model.headrouter.records]
    headrouter.unwrap(model)
    assert hook_count(model) == 0
    headrouter.wrap(model, keep_ratio=0.3, method="fastv", prune_layer=3)
    assert hook_count(model) == hooks
    assert torch.equal(logits(model, batch), twice)
    assert [r.kept_positions for r in model.headrouter.records] == records


def test_pruning_context_restores_previous_state(model, batch):
    plain = logits(model, batch)
    with headrouter.pruning(model, keep_ratio=0.3) as router:
        assert model.headrouter is router
        logits(model, batch)
        assert router.records[0].audio_tokens_after == math.ceil(0.3 * 75)
    assert hook_count(model) == 0 and not hasattr(model, "headrouter")
    assert torch.equal(logits(model, batch), plain)

    headrouter.wrap(model, keep_ratio=0.5, method="frame")
    outer = logits(model, batch)
    with headrouter.pruning(model, keep_ratio=0.3, method="random"):
        assert model.headrouter.method.name == "random"
    assert model.headrouter.method.name == "frame" and model.headrouter.keep_ratio == 0.5
    assert torch.equal(logits(model, batch), outer)


def test_context_restores_on_error(model):
    with pytest.raises(KeyError):
        with headrouter.pruning(model, keep_ratio=0.3):
            raise KeyError("boom")
    assert hook_count(model) == 0


def test_two_models_do_not_interfere(batch):
    a, b = tiny.tiny_model(seed=0), tiny.tiny_model(seed=1)
    expected = {}
    for name, m, kwargs in (("a", a, dict(keep_ratio=0.3)), ("b", b, dict(keep_ratio=0.7, method="random"))):
        with headrouter.pruning(m, **kwargs):
            expected[name] = (logits(m, batch), [r.kept_positions for r in m.headrouter.records])
    headrouter.wrap(a, keep_ratio=0.3)
    headrouter.wrap(b, keep_ratio=0.7, method="random")
    for _ in range(2):
        assert torch.equal(logits(a, batch), expected["a"][0])
        assert torch.equal(logits(b, batch), expected["b"][0])
    assert [r.kept_positions for r in a.headrouter.records] == expected["a"][1]
    assert [r.kept_positions for r in b.headrouter.records] == expected["b"][1]
    assert expected["a"][1] != expected["b"][1]


def test_records(model, batch):
    headrouter.wrap(model, keep_ratio=0.4, prune_layer=1, method="frame")
    logits(model, batch)
    records = model.headrouter.records
    audio = batch["input_ids"] == tiny.AUDIO_TOKEN
    assert [r.sample for r in records] == [0, 1, 2]
    assert [r.audio_tokens_before for r in records] == audio.sum(-1).tolist() == [75, 50, 0]
    assert [r.audio_tokens_after for r in records] == [30, 20, 0]
    for r, row in zip(records, audio, strict=True):
        assert r.layer == 1 and r.method == "frame" and r.scoring_seconds > 0
        assert len(r.kept_positions) == r.audio_tokens_after
        assert all(row[p] for p in r.kept_positions)
        assert r.kept_positions == sorted(r.kept_positions)


def test_audio_anywhere_in_the_prompt(model):
    """Several clips with text between them, audio first or last: nothing assumes one contiguous span."""
    prompts = [
        tiny.audio_prompt(
            [tiny.tone(0.8, seed=4), tiny.tone(0.4, seed=5), tiny.tone(0.6, seed=6)], [0, 2, 7, 3], seed=4
        ),
        tiny.audio_prompt([tiny.tone(1.0, seed=7)], [6, 0], seed=5),
    ]
    inputs = tiny.encode(prompts)
    headrouter.wrap(model, keep_ratio=0.25)
    logits(model, inputs)
    audio = inputs["input_ids"] == tiny.AUDIO_TOKEN
    for record, row in zip(model.headrouter.records, audio, strict=True):
        assert record.audio_tokens_after == math.ceil(0.25 * int(row.sum()))
        assert all(row[p] for p in record.kept_positions)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("ratio", [0, 0.0, -0.1, 1.0001, 2, float("nan")])
def test_keep_ratio_out_of_range(model, ratio):
    with pytest.raises(ValueError, match=r"keep_ratio must be in \(0, 1\]"):
        headrouter.wrap(model, keep_ratio=ratio)
    assert hook_count(model) == 0


@pytest.mark.parametrize("ratio", ["0.5", None, True, [0.5]])
def test_keep_ratio_wrong_type(model, ratio):
    with pytest.raises(TypeError, match="keep_ratio must be a number"):
        headrouter.wrap(model, keep_ratio=ratio)


@pytest.mark.parametrize("layer", [0, -1, 4, 10])
def test_prune_layer_out_of_range(model, layer):
    with pytest.raises(ValueError, match="prune_layer must be between 1 and 3 for a decoder of 4 layers"):
        headrouter.wrap(model, prune_layer=layer)
    assert hook_count(model) == 0


@pytest.mark.parametrize("layer", [2.0, "2", None])
def test_prune_layer_wrong_type(model, layer):
    with pytest.raises(TypeError, match="prune_layer must be an int"):
        headrouter.wrap(model, prune_layer=layer)


def test_unknown_method_lists_known_ones(model):
    known = ", ".join(headrouter.available_methods())
    assert {"dart", "fastv", "frame", "headrouter", "random", "segment"} <= set(headrouter.available_methods())
    with pytest.raises(ValueError, match=f"unknown method 'fastvv'; known methods: {known}$"):
        headrouter.wrap(model, method="fastvv")


def test_method_settings_are_checked(model):
    with pytest.raises(TypeError):
        headrouter.wrap(model, method="random", sed=1)
    with pytest.raises(TypeError, match="method settings"):
        headrouter.wrap(model, method=headrouter.get_method("random"), seed=1)
    with pytest.raises(TypeError, match="method must be a name, a spec or a ScoringMethod, got int"):
        headrouter.wrap(model, method=3)
    assert hook_count(model) == 0


def test_unsupported_model_names_supported_classes():
    with pytest.raises(
        TypeError, match="Qwen2_5OmniForConditionalGeneration, Qwen2_5OmniThinkerForConditionalGeneration"
    ):
        headrouter.wrap(torch.nn.Linear(2, 2))


def test_inputs_embeds_only_is_an_error(model, single):
    headrouter.wrap(model, keep_ratio=0.5)
    embeds = model.get_input_embeddings()(single["input_ids"])
    with pytest.raises(ValueError, match="only inputs_embeds"):
        model(inputs_embeds=embeds, attention_mask=single["attention_mask"])


def test_four_d_attention_mask_is_an_error(model, single):
    headrouter.wrap(model, keep_ratio=0.5)
    bad = single["attention_mask"][:, None, None, :].float()
    with pytest.raises(TypeError, match="2-D"):
        model(**{**single, "attention_mask": bad})


def test_static_cache_is_an_error(model, single):
    headrouter.wrap(model, keep_ratio=0.5)
    with pytest.raises(TypeError, match="DynamicCache"):
        model.generate(**single, max_new_tokens=2, cache_implementation="static")


def test_config_round_trip():
    config = headrouter.PruningConfig(0.5, 3, "random", {"seed": 7})
    assert headrouter.PruningConfig.from_dict(config.to_dict()) == config


def test_batch_of_prompts_fixture_is_mixed():
    # guards the fixture other tests rely on: different audio lengths and one sample without audio
    inputs = tiny.encode(prompts_mixed())
    assert (inputs["input_ids"] == tiny.AUDIO_TOKEN).sum(-1).tolist() == [75, 50, 0]


# ---------------------------------------------------------------- copies and pickles


def test_a_deep_copy_of_a_wrapped_model_prunes_with_its_own_modules(models, batch):
    """DART reads layer K's key projection: a copy whose keys differ must choose as a fresh wrap of it does."""
    original = headrouter.wrap(copy.deepcopy(models["eager"]), keep_ratio=0.3, method="dart")
    twin = copy.deepcopy(original)
    assert twin.headrouter is not original.headrouter and twin.headrouter.model is twin
    with torch.no_grad():
        twin.model.language_model.layers[2].self_attn.k_proj.weight.mul_(-3.0).add_(0.5)
    got = logits(twin, batch)
    kept = [r.kept_positions for r in twin.headrouter.records]
    headrouter.unwrap(twin)
    assert hook_count(twin) == 0 and hook_count(original) > 0
    headrouter.wrap(twin, keep_ratio=0.3, method="dart")
    assert torch.equal(logits(twin, batch), got)
    assert [r.kept_positions for r in twin.headrouter.records] == kept
    logits(original, batch)
    assert [r.kept_positions for r in original.headrouter.records] != kept  # the perturbation changed the choice


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
def test_torch_save_of_a_wrapped_model_round_trips(impl, batch):
    # a fresh model: transformers' own hooks from an output_attentions=True call (other tests) do not pickle
    model = headrouter.wrap(tiny.tiny_model(attn_implementation=impl), keep_ratio=0.3, method="random", seed=4)
    expected = logits(model, batch)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert isinstance(loaded.headrouter, headrouter.Pruner) and loaded.headrouter.model is loaded
    assert torch.equal(logits(loaded, batch), expected)
    headrouter.unwrap(loaded)
    assert hook_count(loaded) == 0 and hook_count(model) > 0
