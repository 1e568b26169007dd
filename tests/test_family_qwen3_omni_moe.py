"""Qwen3-Omni beyond the shared proofs (tests/test_families.py): its audio token count, its q/k-normed keys, positions
under interleaved mRoPE, the inputs it refuses (images and video, router logits, speech output), the full model
class, its real processor (tiny.tiny_processor) and its benchmark model."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import cache_kwarg
from transformers.models.qwen3_omni_moe.modeling_qwen3_omni_moe import _get_feat_extract_output_lengths

import headrouter
from headrouter.adapters import adapter_for
from headrouter.adapters.qwen3_omni_moe import Qwen3OmniMoeAdapter, tiny
from headrouter.testing import assert_pruned_equals_masked, proofs

K = 2  # the default prune layer


@pytest.fixture(scope="module")
def model():
    return tiny.tiny_model()


@pytest.fixture(autouse=True)
def unwrapped(model):
    yield
    headrouter.unwrap(model)


def prompts():
    return [
        tiny.audio_prompt([tiny.tone(3.0, 440.0, seed=1)], text_lengths=[4, 9], seed=1),
        tiny.audio_prompt([tiny.tone(1.2, 300.0, seed=2), tiny.tone(0.8, 900.0, seed=3)], [3, 5, 6], seed=2),
    ]


@pytest.fixture(scope="module")
def batch():
    return tiny.encode(prompts())


def test_the_tower_outputs_one_token_per_placeholder(model, batch):
    frames = batch["feature_attention_mask"].sum(-1)
    assert frames.tolist() == [300, 120, 80]
    # 13 tokens per whole second (a 100-frame chunk), ceil(r / 8) for the r frames left: 39; 13 + 3; 10
    assert tiny.audio_tokens(frames).tolist() == [39, 16, 10]
    assert _get_feat_extract_output_lengths(frames).tolist() == [39, 16, 10]  # the model's own count
    with torch.no_grad():
        encoded = model.model.get_audio_features(batch["input_features"], batch["feature_attention_mask"])
    assert encoded.last_hidden_state.shape[0] == 39 + 16 + 10 == int((batch["input_ids"] == tiny.AUDIO_TOKEN).sum())


def test_every_decoder_layer_routes_tokens_to_several_experts(model, batch):
    picked = []
    hooks = [
        layer.mlp.gate.register_forward_hook(lambda m, a, out: picked.append(out[2]))
        for layer in model.model.language_model.layers
    ]
    with torch.no_grad():
        model(**batch)
    for hook in hooks:
        hook.remove()
    assert len(picked) == 4
    assert all(indices.unique().numel() > 2 for indices in picked)  # 4 experts, 2 per token: more than one pair


def test_key_projection_is_the_layers_normed_keys(model, batch):
    adapter = adapter_for(model)
    layer = adapter.layers[K]
    seen = {}
    hooks = [
        layer.register_forward_pre_hook(lambda m, args: seen.setdefault("input", args[0])),
        layer.self_attn.k_norm.register_forward_hook(lambda m, a, out: seen.setdefault("keys", out)),
    ]
    with torch.no_grad():
        model(**batch)
        keys = adapter.key_projection(K)(seen["input"])
    for hook in hooks:
        hook.remove()
    assert torch.equal(keys, seen["keys"].flatten(-2))  # (B, L, H_kv * d), after k_norm, before rotary


def spy_positions(model, layers):
    """Per forward call, the text positions (None where generate passes mRoPE positions only) and rotary cosines each of
    ``layers`` received (after the engine's hooks, which run first)."""
    seen = {index: [] for index in layers}
    hooks = []
    for index in layers:

        def record(module, args, kwargs, index=index):
            seen[index].append((kwargs["position_ids"], kwargs["position_embeddings"][0].clone()))

        hooks.append(adapter_for(model).layers[index].register_forward_pre_hook(record, with_kwargs=True))
    return seen, hooks


def generate(model, inputs, steps=4, **kwargs):
    with torch.no_grad():
        return model.generate(
            **inputs,
            max_new_tokens=steps,
            min_new_tokens=steps,
            do_sample=False,
            return_dict_in_generate=True,
            **kwargs,
        )


def test_kept_tokens_keep_their_positions_and_decoding_continues_the_unpruned_ones(model, batch):
    seen_full, hooks = spy_positions(model, [0, K])
    generate(model, batch)
    full_deltas = model.model.rope_deltas.clone()
    for hook in hooks:
        hook.remove()
    headrouter.wrap(model, keep_ratio=0.3, prune_layer=K)
    seen, hooks = spy_positions(model, [0, K])
    generate(model, batch)
    for hook in hooks:
        hook.remove()
    index, valid = model.headrouter.kept_index, model.headrouter.kept_valid
    assert torch.equal(model.model.rope_deltas, full_deltas)
    (positions, cos), (full_positions, full_cos) = seen[K][0], seen_full[K][0]
    rows = torch.arange(index.shape[0])[:, None]
    assert positions.shape[1] == index.shape[1] < full_positions.shape[1]  # layer K saw the kept tokens only
    assert torch.equal(positions[valid], full_positions[rows, index][valid])
    assert torch.equal(cos[valid], full_cos[rows, index][valid])
    # layer 0 sees every token; decode steps get the unpruned positions in every layer
    assert len(seen[0]) == len(seen_full[0]) == 4
    for got, want in zip(seen[0] + seen[K][1:], seen_full[0] + seen_full[K][1:], strict=True):
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_a_later_turn_on_a_pruned_cache_gets_the_unpruned_positions(model, batch):
    # generate continues a cache through rope_deltas and the cache length of layer 0, which pruning leaves whole
    headrouter.wrap(model, keep_ratio=0.3, prune_layer=K)
    first = generate(model, batch, steps=2)
    cache, length = first.past_key_values, batch["input_ids"].shape[1] + 1
    assert cache.get_seq_length(0) == length > cache.get_seq_length(K)  # pruned from layer K on
    turn = torch.cat([first.sequences, torch.full((2, 3), tiny.FIRST_BYTE + 10)], 1)
    inputs = {"input_ids": turn, "attention_mask": torch.cat([batch["attention_mask"], torch.ones(2, 5)], 1).long()}
    seen, hooks = spy_positions(model, [0, K])
    generate(model, inputs, steps=2, **{cache_kwarg(adapter_for(model).forward_module): cache})
    for hook in hooks:
        hook.remove()
    assert seen[0][0][1].shape[1] == 4  # the turn continued the cache: the last answer token and 3 new ones
    headrouter.unwrap(model)
    # the unpruned model on the same second turn, from its own first-turn cache of the same length
    full_first = generate(model, batch, steps=2)
    seen_full, hooks = spy_positions(model, [0, K])
    generate(model, inputs, steps=2, **{cache_kwarg(adapter_for(model).forward_module): full_first.past_key_values})
    for hook in hooks:
        hook.remove()
    for index in (0, K):
        assert len(seen[index]) == len(seen_full[index]) == 2
        for (positions, cos), (full_positions, full_cos) in zip(seen[index], seen_full[index], strict=True):
            assert positions is full_positions is None and torch.equal(cos, full_cos)


def with_an_image(inputs):
    """``inputs`` (a batch of one) with a one-token image after its first two tokens: a 2x2 patch grid, merged 2x2."""
    ids = inputs["input_ids"]
    image = torch.tensor([[tiny.VISION_START, tiny.IMAGE_TOKEN, tiny.VISION_END]])
    ids = torch.cat([ids[:, :2], image, ids[:, 2:]], 1)
    patches = torch.randn(4, 3 * 2 * 16 * 16, generator=torch.Generator().manual_seed(0))
    return {
        **inputs,
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "pixel_values": patches,
        "image_grid_thw": torch.tensor([[1, 2, 2]]),
    }


def test_images_and_video_are_refused_before_any_model_work(model):
    inputs = with_an_image(tiny.encode(prompts()[:1]))
    with torch.no_grad():
        model(**inputs)  # unwrapped: as usual
    headrouter.wrap(model, keep_ratio=0.5)
    with pytest.raises(ValueError, match="images or video.*deepstack"):
        proofs.forward_logits(model, inputs)
    video = {k: v for k, v in inputs.items() if k not in ("pixel_values", "image_grid_thw")}
    with pytest.raises(ValueError, match="images or video"):
        proofs.forward_logits(model, {**video, "pixel_values_videos": inputs["pixel_values"]})
    assert model.headrouter.records == []


def test_deepstack_is_what_the_refusal_guards(model, monkeypatch):
    # with the refusal lifted: deepstack adds visual features after layers 0-2 (3 levels) by a full-length mask, so
    # pruning at layer 2 breaks it, while pruning at layer 3, after the last level, equals masking
    monkeypatch.setattr(Qwen3OmniMoeAdapter, "check_call", lambda self, kwargs: None)
    inputs = with_an_image(tiny.encode(prompts()[:1]))
    assert len(model.config.vision_config.deepstack_visual_indexes) == 3
    with pytest.raises(IndexError, match="shape of the mask"):
        assert_pruned_equals_masked(model, inputs, keep_ratio=0.3, prune_layer=2, steps=2)
    headrouter.unwrap(model)
    assert_pruned_equals_masked(model, inputs, keep_ratio=0.3, prune_layer=3, steps=4)


def test_router_logits_are_refused(model, batch):
    headrouter.wrap(model, keep_ratio=0.5)
    with pytest.raises(ValueError, match="output_router_logits"):
        model(**batch, output_router_logits=True)
    assert model.headrouter.records == []


def test_full_model_class(batch):
    model = tiny.tiny_model(full=True)
    assert model.has_talker
    kwargs = dict(generation_mode="text", thinker_max_new_tokens=8, thinker_do_sample=False)
    with torch.no_grad():
        ref = model.generate(**batch, **kwargs)
        headrouter.wrap(model, keep_ratio=1.0)
        assert torch.equal(model.generate(**batch, **kwargs), ref)
        headrouter.wrap(model, keep_ratio=0.3)
        pruned = model.generate(**batch, **kwargs)
    records = model.headrouter.records
    assert [r.audio_tokens_before for r in records] == [39, 26]
    assert [r.audio_tokens_after for r in records] == [math.ceil(0.3 * 39), math.ceil(0.3 * 26)]
    assert pruned.shape == ref.shape


def test_speech_output_while_pruning_is_refused_before_the_thinker_runs(batch, caplog):
    model = tiny.tiny_model(full=True)
    with caplog.at_level("WARNING", logger="headrouter"):
        headrouter.wrap(model, keep_ratio=0.5)
    assert "generation_mode='text'" in caplog.text
    with pytest.raises(RuntimeError, match="generation_mode='text'"):
        model.generate(**batch, thinker_max_new_tokens=2, talker_max_new_tokens=2)  # audio output: the default
    assert model.headrouter.records == []
    model.generate(**batch, generation_mode="text", thinker_max_new_tokens=2)  # text output is pruned as usual
    assert model.headrouter.records[0].audio_tokens_after == math.ceil(0.5 * 39)


def test_build_inputs_through_the_real_processor(model, tmp_path):
    adapter, processor = adapter_for(model), tiny.tiny_processor()
    wavs = [tiny.tone(3.0, 440.0, seed=1), tiny.tone(1.2, 300.0, seed=2)]
    inputs = adapter.build_inputs(processor, wavs, ["What is it?", "Why?"], system_prompt="Be brief.")
    expected = tiny.encode([tiny.audio_prompt([wav]) for wav in wavs])
    assert adapter.audio_mask(inputs["input_ids"]).sum(-1).tolist() == [39, 16]
    assert adapter.audio_mask(expected["input_ids"]).sum(-1).tolist() == [39, 16]
    for name in ("input_features", "feature_attention_mask"):
        assert torch.equal(inputs[name], expected[name])
    ids = inputs["input_ids"][1][inputs["attention_mask"][1].bool()].tolist()
    start = ids.index(tiny.AUDIO_START)
    assert ids[start + 1 : start + 17] == [tiny.AUDIO_TOKEN] * 16 and ids[start + 17] == tiny.AUDIO_END
    decode = processor.tokenizer.decode
    assert decode(ids[:start]) == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n"
    assert decode(ids[start + 18 :]) == "Why?<|im_end|>\n<|im_start|>assistant\n"
    with torch.no_grad():
        assert model(**inputs).logits.shape[:2] == inputs["input_ids"].shape
    # clips are heard whole (31 s: 31 x 13 tokens), or up to the extractor's 30 s window with truncate_audio
    long = [tiny.tone(31.0, seed=3)]
    assert adapter.audio_mask(adapter.build_inputs(processor, long, ["a"])["input_ids"]).sum() == 403
    cut = adapter.build_inputs(processor, long, ["a"], truncate_audio=True)
    assert adapter.audio_mask(cut["input_ids"]).sum() == 390 and cut["feature_attention_mask"].sum() == 3000
    processor.save_pretrained(tmp_path)
    again = Qwen3OmniMoeAdapter.load_processor(tmp_path)
    reloaded = adapter.build_inputs(again, wavs, ["What is it?", "Why?"], system_prompt="Be brief.")
    assert all(torch.equal(reloaded[name], inputs[name]) for name in inputs)


def test_benchmark_model_at_the_published_widths(tmp_path):
    assert list(Qwen3OmniMoeAdapter.published_shapes) == ["30B-A3B"]
    with torch.device("meta"):  # the widths, not the weights
        thinker = Qwen3OmniMoeAdapter.random_model("30B-A3B", num_layers=2)
    adapter = adapter_for(thinker)
    config = adapter.text_config
    widths = (config.hidden_size, config.num_attention_heads, config.num_key_value_heads, config.head_dim)
    assert widths == (2048, 32, 4, 128) and adapter.num_layers == 2
    experts = adapter.layers[0].mlp.experts
    assert (experts.num_experts, experts.intermediate_dim, config.num_experts_per_tok) == (128, 768, 8)
    # padding, <|vision_end|>, then the placeholders and media starts/ends at 250-255
    assert adapter.special_token_ids() == [tiny.PAD_TOKEN, tiny.VISION_END, *range(tiny.AUDIO_TOKEN, 256)]
    prompt = adapter.placeholder_prompt(5, text_before=2, text_after=3, seed=1)["input_ids"][0].tolist()
    assert prompt[2:9] == [tiny.AUDIO_START] + [tiny.AUDIO_TOKEN] * 5 + [tiny.AUDIO_END]
    assert not set(prompt[:2] + prompt[9:]) & set(adapter.special_token_ids()) and len(prompt) == 12
    with pytest.raises(ValueError, match="no published shape '7B'.*known: 30B-A3B"):
        Qwen3OmniMoeAdapter.random_model("7B", num_layers=2)
    path = tmp_path / "config.json"
    path.write_text(tiny.tiny_thinker_config().to_json_string())
    built = Qwen3OmniMoeAdapter.random_model_from_config(path)
    assert type(built).__name__ == "Qwen3OmniMoeThinkerForConditionalGeneration" and adapter_for(built).num_layers == 4
