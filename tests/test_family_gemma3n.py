"""Gemma 3n beyond the shared proofs (tests/test_families.py): sliding windows far shorter than the prompt, KV
sharing, AltUp and per-layer inputs through the adapter, 188 audio tokens per clip, the processor, the benchmark
section."""

from __future__ import annotations

import pytest
import torch

import headrouter
from headrouter.adapters import Gemma3nAdapter, adapter_for
from headrouter.adapters.gemma3n import bench, tiny
from headrouter.bench import output_cache
from headrouter.testing import assert_pruned_equals_masked, proofs

WINDOW = 16


def family_prompts():
    """The family suite's prompts: 0.8 s; 1.2 s + 0.8 s (207 and 402 tokens)."""
    return [
        tiny.audio_prompt([tiny.tone(0.8, 440.0, seed=1)], text_lengths=[4, 9], seed=1),
        tiny.audio_prompt(
            [tiny.tone(1.2, 300.0, seed=2), tiny.tone(0.8, 900.0, seed=3)], text_lengths=[3, 5, 6], seed=2
        ),
    ]


@pytest.fixture(scope="module")
def batch():
    return tiny.encode(family_prompts())


@pytest.fixture(scope="module")
def unpadded():
    """Two prompts of 207 tokens. Decoding from a cache is compared with a forward without one: on a left-padded row
    the unwrapped model itself differs between the two by up to 2.5e-5 in the logits (generate counts rotary
    positions from the row's first real token, a plain forward from the first padding), which is not pruning's."""
    return tiny.encode(
        [
            tiny.audio_prompt([tiny.tone(0.8, 440.0, seed=1)], text_lengths=[4, 9], seed=1),
            tiny.audio_prompt([tiny.tone(1.2, 300.0, seed=2)], text_lengths=[6, 7], seed=4),
        ]
    )


@pytest.fixture(scope="module", params=["eager", "sdpa"])
def narrow(request):
    """Every sliding layer sees 16 positions: a 25th of the longer prompt."""
    model = tiny.tiny_model(attn_implementation=request.param, sliding_window=WINDOW)
    yield model
    headrouter.unwrap(model)


@pytest.fixture(scope="module", params=["eager", "sdpa"])
def shared(request):
    """8 layers (sliding, sliding, sliding, full, x2), the last 3 reusing keys and values: layers 5 and 6 those of
    layer 4 (the last sliding layer before them), layer 7 those of layer 3."""
    model = tiny.tiny_model(attn_implementation=request.param, num_layers=8, num_kv_shared_layers=3)
    yield model
    headrouter.unwrap(model)


# ---------------------------------------------------------------------------------------------- the adapter contract


def test_the_adapter_answers_the_contract(batch):
    model = tiny.tiny_model(num_layers=8, num_kv_shared_layers=3)
    adapter = adapter_for(model)
    assert isinstance(adapter, Gemma3nAdapter) and adapter.audio_token_id == tiny.AUDIO_TOKEN
    assert [adapter.layer_type(i) for i in range(4)] == ["sliding_attention"] * 3 + ["full_attention"]
    assert [adapter.sliding_window(i) for i in range(4)] == [200, 200, 200, None]
    assert adapter.kv_sharing_groups() == [[4, 5, 6], [3, 7]]
    assert adapter.attention_scaling(adapter.attention(adapter.layers[2])) == 1.0
    # AltUp: the layers pass on 4 streams; methods read the active prediction, which the key projection takes
    streams = torch.randn(4, 2, 5, 64)
    layer = adapter.layers[2]
    active = layer.altup.predict(streams)[0]
    assert adapter.hidden_token_axis == 2 and torch.equal(adapter.layer_states(2, streams), active)
    keys = layer.self_attn.k_norm(layer.self_attn.k_proj(layer.input_layernorm(active)).view(2, 5, 2, 16))
    assert torch.equal(adapter.key_projection(2)(active), keys.flatten(-2))
    # layers reusing other layers' keys have none of their own
    assert adapter.key_projection(5) is None
    rotary = (torch.ones(2, 5, 16), torch.zeros(2, 5, 16))
    with pytest.raises(ValueError, match="reuses another layer's keys"):
        adapter.project_query_key(adapter.attention(adapter.layers[5]), active, rotary, torch.zeros(2, 1).long())


# ------------------------------------------------------------------------------------------ sliding windows and K


@pytest.mark.parametrize("method,prune_layer", [("fastv", 2), ("frame", 1)])
def test_windows_much_shorter_than_the_prompt(narrow, batch, method, prune_layer):
    assert batch["input_ids"].shape[1] > 20 * WINDOW
    assert_pruned_equals_masked(narrow, batch, method, keep_ratio=0.3, prune_layer=prune_layer)


def test_cached_decoding_across_a_short_window(narrow, unpadded):
    assert bool(unpadded["attention_mask"].all())
    proofs.assert_cached_equals_recomputed(narrow, unpadded, keep_ratio=0.4, prune_layer=2)


def test_the_pruned_sliding_cache_keeps_the_last_window_of_slots(narrow, batch):
    with headrouter.pruning(narrow, 0.3, prune_layer=2) as pruner:
        with torch.no_grad():
            cache = output_cache(narrow(**batch, use_cache=True))
        slots = pruner.kept_index.shape[1]
    width = batch["input_ids"].shape[1]
    assert [cache.layers[i].keys.shape[-2] for i in range(4)] == [WINDOW - 1, WINDOW - 1, WINDOW - 1, slots]
    assert cache.get_seq_length(1) == width and cache.get_seq_length(2) == slots
    assert cache.get_mask_sizes(1, 2) == (WINDOW, slots - WINDOW + 1)  # the next step's keys: the last 16 slots


# --------------------------------------------------------------------------------------------------- KV sharing


@pytest.mark.parametrize("prune_layer", [4, 5, 7])
def test_prune_layers_that_split_a_kv_sharing_group_are_refused(shared, prune_layer):
    with pytest.raises(ValueError, match="split a KV-sharing group"):
        headrouter.wrap(shared, keep_ratio=0.5, prune_layer=prune_layer)
    assert not hasattr(shared, "headrouter")


def test_layers_reusing_keys_see_the_pruned_ones(shared, batch, unpadded):
    """Layers 5, 6 (layer 4's keys) and 7 (layer 3's) attend over the kept tokens only, and exactly as masking."""
    lengths = {}

    def spy(index):
        def hook(module, args, kwargs):
            kind = adapter.layer_type(index)
            lengths[index] = kwargs["shared_kv_states"][kind][0].shape[-2]

        return hook

    adapter = adapter_for(shared)
    handles = [adapter.attention(adapter.layers[i]).register_forward_pre_hook(spy(i), with_kwargs=True) for i in (5, 7)]
    try:
        with headrouter.pruning(shared, 0.3, prune_layer=3) as pruner:
            proofs.forward_logits(shared, batch)
            slots = pruner.kept_index.shape[1]
    finally:
        for handle in handles:
            handle.remove()
    assert slots < batch["input_ids"].shape[1] and lengths == {5: slots, 7: slots}
    assert_pruned_equals_masked(shared, batch, "fastv", keep_ratio=0.3, prune_layer=3)
    proofs.assert_cached_equals_recomputed(shared, unpadded, keep_ratio=0.4, prune_layer=3)


# --------------------------------------------------------------------------------------------------------- audio


def test_every_clip_takes_188_placeholders_and_the_tower_fills_at_most_that():
    model = tiny.tiny_model()
    assert model.config.audio_soft_tokens_per_image == tiny.AUDIO_TOKENS_PER_CLIP == 188
    clips = [tiny.tone(30.0, 440.0, seed=1), tiny.tone(1.2, 300.0, seed=2), tiny.tone(0.8, 900.0, seed=3)]
    inputs = tiny.encode([tiny.audio_prompt(clips)])
    assert int((inputs["input_ids"] == tiny.AUDIO_TOKEN).sum()) == 3 * 188
    with torch.no_grad():
        audio = model.model.get_audio_features(inputs["input_features"], ~inputs["input_features_mask"])
    # 6.25 tokens per second: a 30 s clip fills all 188 placeholders, shorter ones the first ceil(s * 6.25) (the model
    # writes its padding embedding in the rest)
    assert audio.pooler_output.shape[:2] == (3, 188)
    assert (~audio.audio_mel_mask).sum(-1).tolist() == [188, 8, 5]
    with pytest.raises(ValueError, match="at most 480000 samples"):
        tiny.encode([tiny.audio_prompt([tiny.tone(30.1)])])


def test_the_tower_is_not_batch_invariant_past_a_clips_end():
    """Why the family suite's first clip is not longer than 1.2 s: the tower's subsampling convolution reads two frames
    past a clip's end, which batching fills with the features of padded silence instead of zeros, so a 1.2 s clip's
    last audio token changes when a longer clip pads it (the model's own behaviour, pruned or not)."""
    model = tiny.tiny_model()
    clip = tiny.tone(1.2, 300.0, seed=2)

    def tower(clips):
        inputs = tiny.encode([tiny.audio_prompt(clips)])
        with torch.no_grad():
            return model.model.get_audio_features(
                inputs["input_features"], ~inputs["input_features_mask"]
            ).pooler_output

    alone, padded = tower([clip])[0, :8], tower([clip, tiny.tone(3.0)])[0, :8]
    assert torch.equal(alone[:7], padded[:7]) and not torch.allclose(alone[7], padded[7], atol=1e-3)
    with_shorter = tower([clip, tiny.tone(0.8)])[0, :8]  # padded to its own length: unchanged
    assert torch.equal(alone, with_shorter)


# ----------------------------------------------------------------------------------------------------- processor


def test_build_inputs_through_the_processor_lays_out_clips_as_encode(tmp_path):
    processor = tiny.tiny_processor()
    adapter = adapter_for(tiny.tiny_model())
    wavs = [tiny.tone(0.8, 440.0, seed=1), tiny.tone(2.5, 300.0, seed=2)]
    inputs = adapter.build_inputs(processor, wavs, ["Which note?", "And this one, longer?"], system_prompt="Be brief.")
    ids, mask = inputs["input_ids"], inputs["attention_mask"].bool()
    assert (ids == tiny.AUDIO_TOKEN).sum(-1).tolist() == [188, 188]
    assert inputs["input_features"].shape[0] == 2 and not mask[0, 0] and mask[:, -1].all()  # left-padded
    block = torch.tensor(tiny.audio_block())
    for row, real in zip(ids, mask, strict=True):
        tokens = row[real]
        assert tokens[0] == tiny.BOS and (tokens == tiny.BOS).sum() == 1  # the template's <bos>, not a second one
        start = int((tokens == tiny.BOA).nonzero()[0]) - 2
        assert torch.equal(tokens[start : start + len(block)], block)
    headrouter.wrap(adapter.model, keep_ratio=0.5)
    with torch.no_grad():
        adapter.forward_module(**inputs)
    assert [r.audio_tokens_after for r in adapter.model.headrouter.records] == [94, 94]
    with pytest.raises(ValueError, match="at most 30 s"):
        adapter.build_inputs(processor, [tiny.tone(31.0)], ["Too long?"])
    cut = adapter.build_inputs(processor, [tiny.tone(31.0)], ["Too long?"], truncate_audio=True)
    assert int((cut["input_ids"] == tiny.AUDIO_TOKEN).sum()) == 188
    processor.save_pretrained(tmp_path)  # after use: its tokenizer's padding state is saved too
    reloaded = Gemma3nAdapter.load_processor(tmp_path)
    again = adapter.build_inputs(reloaded, wavs, ["Which note?", "And this one, longer?"], system_prompt="Be brief.")
    assert torch.equal(again["input_ids"], ids) and torch.equal(again["input_features"], inputs["input_features"])


# ---------------------------------------------------------------------------------------------------- benchmarks


def test_the_published_decoders():
    assert list(Gemma3nAdapter.published_shapes) == ["E2B", "E4B"]  # the first is the benchmark's default
    e2b, e4b = Gemma3nAdapter.published_shapes.values()
    assert (e2b["num_hidden_layers"], e2b["intermediate_size"], e2b["num_kv_shared_layers"]) == (30, 8192, 10)
    assert (e4b["num_hidden_layers"], e4b["intermediate_size"], e4b["num_kv_shared_layers"]) == (35, 16384, 15)
    for widths in (e2b, e4b):
        assert (widths["hidden_size"], widths["num_attention_heads"], widths["num_key_value_heads"]) == (2048, 8, 2)
        assert (widths["head_dim"], widths["sliding_window"], widths["hidden_size_per_layer_input"]) == (256, 512, 256)
    with torch.device("meta"):  # the widths, not the weights
        model = Gemma3nAdapter.random_model("E4B", num_layers=12, dtype=torch.bfloat16)
    config = adapter_for(model).text_config
    assert (config.hidden_size, config.intermediate_size, config.num_hidden_layers) == (2048, [16384] * 12, 12)
    assert config.layer_types == bench.layer_types(12) and config.layer_types[4] == "full_attention"
    assert config.num_kv_shared_layers == 15 * 12 // 35 and config.activation_sparsity_pattern[9:11] == [0.95, 0.0]
    assert model.dtype == torch.bfloat16 and config.vocab_size == tiny.VOCAB_SIZE
    with pytest.raises(ValueError, match="no published shape '1B'; known: E2B, E4B"):
        Gemma3nAdapter.random_model("1B", num_layers=2)


def test_the_benchmark_prompt_and_ids(tmp_path):
    path = tmp_path / "config.json"
    tiny.tiny_config(num_layers=4).to_json_file(path)
    model = Gemma3nAdapter.random_model_from_config(path)
    adapter = adapter_for(model)
    assert adapter.num_layers == 4 and adapter.special_token_ids() == sorted(tiny.SPECIAL_TOKENS)
    prompt = adapter.placeholder_prompt(30, text_before=4, text_after=6, seed=3)
    ids = prompt["input_ids"][0].tolist()
    assert ids[4:36] == [tiny.BOA, *[tiny.AUDIO_TOKEN] * 30, tiny.EOA] and len(ids) == 4 + 32 + 6
    assert not set(ids[:4] + ids[-6:]) & set(adapter.special_token_ids())
    headrouter.wrap(model, keep_ratio=0.5, prune_layer=1)
    with torch.no_grad():
        out = model.generate(**prompt, max_new_tokens=3, do_sample=False, suppress_tokens=adapter.special_token_ids())
    assert model.headrouter.records[0].audio_tokens_after == 15
    assert not set(out[0, len(ids) :].tolist()) & set(adapter.special_token_ids())


def test_a_vision_tower_stand_in_refuses_images():
    model = tiny.tiny_model()
    with pytest.raises(RuntimeError, match="without a vision tower"):
        model.model.vision_tower(pixel_values=torch.zeros(1, 3, 8, 8))


def test_calibration_profiles_equal_eager_attention_within_windows_and_skip_reusing_layers():
    """Calibration recomputes each layer's rows with the layer's window (16, far shorter than the prompt) and leaves
    out the layers that reuse other layers' keys (their rows are not theirs to recompute): uniform weights there."""
    from headrouter.methods.headrouter import stats
    from headrouter.methods.headrouter.calibration import CalibrationSample

    model = tiny.tiny_model("eager", num_layers=6, num_kv_shared_layers=2, sliding_window=WINDOW)
    processor = tiny.tiny_processor()
    sample = CalibrationSample(tiny.tone(0.8, 440.0, seed=1), "Which note?", "acoustic", tiny.SAMPLE_RATE)
    table = headrouter.calibrate(model, processor, [sample], tasks=["acoustic"], progress=False)
    adapter = adapter_for(model)
    assert adapter.recomputable_layers() == [0, 1, 2, 3]
    inputs = adapter.build_inputs(processor, [sample.audio], [sample.prompt])
    with torch.no_grad():
        attentions = model(**inputs, output_attentions=True).attentions
    audio = adapter.audio_mask(inputs["input_ids"])
    queries = torch.arange(int(audio[0].nonzero().max()) + 1, audio.shape[1])
    for layer in range(4):
        rows = attentions[layer][:, :, queries].double()
        expected = stats.behaviour(rows, audio, torch.ones(1, queries.numel(), dtype=torch.bool))[0]
        assert torch.allclose(table.profiles["acoustic"][layer].double(), expected, atol=1e-5), layer
    for layer in (4, 5):
        assert torch.equal(table.profiles["acoustic"][layer], torch.zeros(2 * adapter.num_heads))
        assert torch.equal(table.weights["acoustic"][layer], torch.full((adapter.num_heads,), 1 / adapter.num_heads))


def test_a_checkpoint_loads_without_timm_with_a_vision_stand_in(tmp_path, caplog, monkeypatch):
    import importlib.util

    from headrouter.adapters.gemma3n.vision import VisionTowerStandIn

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "timm" else find_spec(name, *a))
    model = tiny.tiny_model()
    model.save_pretrained(tmp_path)
    with caplog.at_level("WARNING", logger="headrouter"):
        loaded = Gemma3nAdapter.load_model(tmp_path, dtype="float32")
    assert "timm is not installed" in caplog.text and isinstance(loaded.model.vision_tower, VisionTowerStandIn)
    saved = dict(model.state_dict())
    assert all(torch.equal(value, saved[name]) for name, value in loaded.state_dict().items() if name in saved)
    assert {n for n in saved if "vision_tower" not in n} == {n for n in loaded.state_dict() if "vision_tower" not in n}
    # the same weights, so the same logits; transformers 5.25 computes a loaded model's audio embedding in another
    # order than the freshly built one's (text-only logits are bit-identical), so audio prompts agree to 1e-4
    inputs = tiny.encode(family_prompts())
    assert torch.allclose(proofs.forward_logits(loaded, inputs), proofs.forward_logits(model, inputs), atol=1e-4)
