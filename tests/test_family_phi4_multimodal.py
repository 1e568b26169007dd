"""Phi-4-multimodal beyond the shared proofs (tests/test_families.py): its audio token count, its processor, the speech
LoRA around ``qkv_proj``, image placeholders beside the audio, its sliding-window config, loading, and the benchmark's
model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import headrouter
from headrouter.adapters import Phi4MultimodalAdapter, adapter_for
from headrouter.adapters.phi4_multimodal import bench, loading, tiny
from headrouter.bench.flops import DecoderShape
from headrouter.testing import assert_pruned_equals_masked, proofs


@pytest.fixture(scope="module")
def model():
    return tiny.tiny_model(attn_implementation="eager")


def expected_tokens(seconds: float) -> int:
    """Audio tokens of a clip, by hand: 10 ms mel frames of a 25 ms window, then the tower's 8x time reduction."""
    frames = (int(seconds * tiny.SAMPLE_RATE) - 400) // 160 + 1
    return -(-frames // 8)


def test_the_tower_fills_every_placeholder(model):
    prompts = [tiny.audio_prompt([tiny.tone(3.0)]), tiny.audio_prompt([tiny.tone(1.2), tiny.tone(0.8)])]
    inputs = tiny.encode(prompts)
    assert inputs["audio_embed_sizes"].tolist() == [expected_tokens(s) for s in (3.0, 1.2, 0.8)] == [38, 15, 10]
    ids = inputs["input_ids"]
    with torch.no_grad():
        plain = model.model.embed_tokens(ids)
        audio = inputs.copy()
        del audio["attention_mask"]
        embedded = model.model.embed_tokens_extend(ids, plain, **{k: v for k, v in audio.items() if k != "input_ids"})
    changed = (embedded != plain).any(-1)
    assert torch.equal(changed, ids == tiny.AUDIO_TOKEN)  # exactly the placeholders get audio, in place


def test_build_inputs_through_the_real_processor_counts_as_encode(model):
    adapter = adapter_for(model)
    processor = tiny.tiny_processor()
    wavs = [tiny.tone(3.0, seed=1), tiny.tone(1.2, seed=2)]
    inputs = adapter.build_inputs(processor, wavs, ["what is it?", "and this?"], system_prompt="be brief")
    counts = adapter.audio_mask(inputs["input_ids"]).sum(-1).tolist()
    encoded = tiny.encode([tiny.audio_prompt([w]) for w in wavs])
    assert counts == adapter.audio_mask(encoded["input_ids"]).sum(-1).tolist() == [38, 15]
    assert inputs["attention_mask"][:, 0].tolist() == [1, 0]  # left-padded
    text = processor.tokenizer.decode(inputs["input_ids"][1][inputs["attention_mask"][1].bool()])
    assert text.startswith("<|system|>be brief<|end|><|user|><|endoftext11|>")
    assert text.endswith("and this?<|end|><|assistant|>")
    # the processor's own inputs (padding frames and all) pass the proof too
    assert_pruned_equals_masked(model, inputs, "fastv", keep_ratio=0.3, prune_layer=2, steps=4)


def test_processor_round_trips_with_its_chat_template(tmp_path):
    adapter = Phi4MultimodalAdapter(tiny.tiny_model())
    processor = tiny.tiny_processor()
    processor.save_pretrained(tmp_path)
    loaded = Phi4MultimodalAdapter.load_processor(tmp_path)
    assert loaded.chat_template == tiny.CHAT_TEMPLATE
    wavs = [tiny.tone(0.7)]
    a = adapter.build_inputs(processor, wavs, ["hi"])
    b = adapter.build_inputs(loaded, wavs, ["hi"])
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_truncate_audio_keeps_thirty_seconds():
    adapter = Phi4MultimodalAdapter(tiny.tiny_model())
    processor = tiny.tiny_processor()
    long = np.zeros(40 * tiny.SAMPLE_RATE, np.float32)
    whole = adapter.build_inputs(processor, [long], ["a"])
    cut = adapter.build_inputs(processor, [long], ["a"], truncate_audio=True)
    assert whole["audio_embed_sizes"].tolist() == [expected_tokens(40.0)] == [500]
    assert cut["audio_embed_sizes"].tolist() == [expected_tokens(30.0)] == [375]


class LoraLinear(nn.Module):
    """What PEFT's LoRA puts in place of a linear layer: the base layer plus a low-rank delta."""

    def __init__(self, base_layer: nn.Linear, rank: int = 4, scaling: float = 0.5) -> None:
        super().__init__()
        self.base_layer = base_layer
        self.lora_A = nn.Linear(base_layer.in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, base_layer.out_features, bias=False)
        nn.init.normal_(self.lora_A.weight, std=0.2)
        nn.init.normal_(self.lora_B.weight, std=0.2)
        self.scaling = scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base_layer(x) + self.lora_B(self.lora_A(x)) * self.scaling


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_scores_with_the_lora_wrapped_projection(attn):
    m = tiny.tiny_model(attn_implementation=attn)
    inputs = tiny.encode(
        [tiny.audio_prompt([tiny.tone(1.5)], text_lengths=[4, 9]), tiny.audio_prompt([tiny.tone(1.0)])]
    )
    base = proofs.forward_logits(m, inputs)
    torch.manual_seed(0)
    for layer in m.model.layers:
        layer.self_attn.qkv_proj = LoraLinear(layer.self_attn.qkv_proj)
    assert (proofs.forward_logits(m, inputs) - base).abs().max() > 0.1  # the delta matters
    if attn == "eager":  # queries and keys include the delta: the recomputed rows equal the model's own
        proofs.assert_captured_rows_equal_eager(m, inputs, prune_layer=3)
    for method in ("fastv", "dart"):  # dart reads the keys through key_projection
        assert_pruned_equals_masked(m, inputs, method, keep_ratio=0.3, prune_layer=2)


def test_scores_with_a_peft_lora():
    peft = pytest.importorskip("peft")
    m = tiny.tiny_model(attn_implementation="eager")
    config = peft.LoraConfig(
        r=4, lora_alpha=8, target_modules=r"model.layers.\d+.((self_attn.(qkv|o)_proj)|(mlp.(gate_up|down)_proj))",
        init_lora_weights=False,
    )  # fmt: skip
    m = peft.inject_adapter_in_model(config, m, adapter_name="speech").eval()
    inputs = tiny.encode([tiny.audio_prompt([tiny.tone(1.5)], text_lengths=[4, 9])])
    proofs.assert_captured_rows_equal_eager(m, inputs, prune_layer=3)
    assert_pruned_equals_masked(m, inputs, "dart", keep_ratio=0.3, prune_layer=2)


def test_image_placeholders_beside_audio_are_kept_and_pruning_stays_exact(model):
    inputs = tiny.encode([tiny.audio_prompt([tiny.tone(1.2)], text_lengths=[3, 5])])
    ids = inputs["input_ids"]
    # one 28-pixel image of the tiny vision tower: a global crop and one sub-crop, 5 image tokens
    inputs["input_ids"] = torch.cat([ids[:, :2], torch.full((1, 5), tiny.IMAGE_TOKEN), ids[:, 2:]], 1)
    inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
    inputs["image_pixel_values"] = torch.randn(1, 2, 3, 28, 28, generator=torch.Generator().manual_seed(0))
    inputs["image_sizes"] = torch.tensor([[28, 28]])
    inputs["image_attention_mask"] = torch.ones(1, 2, 2, 2, dtype=torch.bool)
    image = inputs["input_ids"] == tiny.IMAGE_TOKEN
    for method in ("fastv", "dart"):
        assert_pruned_equals_masked(model, inputs, method, keep_ratio=0.3, prune_layer=2)
    with headrouter.pruning(model, 0.3, prune_layer=2) as pruner:
        proofs.forward_logits(model, inputs)
        kept_positions = set(pruner.kept_index[0][pruner.kept_valid[0]].tolist())
    assert set(image[0].nonzero().squeeze(-1).tolist()) <= kept_positions  # images are never dropped


def test_layer_kinds_follow_whether_the_window_can_slide():
    # the released window (262144) exceeds the context (131072), as the tiny one (65536 over 32768) does: full
    # attention, which every attention implementation prunes
    for window in (65_536, 32_768, None):
        adapter = Phi4MultimodalAdapter(tiny.tiny_model(sliding_window=window))
        assert [adapter.layer_type(i) for i in range(4)] == ["full_attention"] * 4, window
        assert adapter.sliding_window(2) is None
    # a window inside the context slides in every layer
    adapter = Phi4MultimodalAdapter(tiny.tiny_model(sliding_window=16))
    assert [adapter.layer_type(i) for i in range(4)] == ["sliding_attention"] * 4
    assert adapter.sliding_window(2) == 16


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_a_window_inside_the_context_prunes_exactly(attn):
    inputs = tiny.encode(
        [tiny.audio_prompt([tiny.tone(3.0)], text_lengths=[4, 9]), tiny.audio_prompt([tiny.tone(1.2), tiny.tone(0.8)])]
    )
    sliding = tiny.tiny_model(attn_implementation=attn, sliding_window=16)
    full = tiny.tiny_model(attn_implementation=attn)  # the same weights
    assert (proofs.forward_logits(sliding, inputs) - proofs.forward_logits(full, inputs)).abs().max() > 0.1
    for method in ("fastv", "dart"):
        assert_pruned_equals_masked(sliding, inputs, method, keep_ratio=0.3, prune_layer=2)
    proofs.assert_cached_equals_recomputed(sliding, inputs, keep_ratio=0.4, prune_layer=2)
    if attn == "eager":
        proofs.assert_captured_rows_equal_eager(sliding, inputs, prune_layer=3)


def test_load_model_without_and_with_a_speech_lora(tmp_path, monkeypatch, caplog):
    saved = tiny.tiny_model()
    saved.save_pretrained(tmp_path)
    inputs = tiny.encode([tiny.audio_prompt([tiny.tone(0.5)])])
    with caplog.at_level("WARNING", logger="headrouter"):
        loaded = Phi4MultimodalAdapter.load_model(tmp_path, dtype="float32")
    assert "without its speech LoRA" in caplog.text and not loaded.training
    assert torch.equal(proofs.forward_logits(loaded, inputs), proofs.forward_logits(saved, inputs))
    (tmp_path / loading.SPEECH_LORA).mkdir()
    (tmp_path / loading.SPEECH_LORA / "adapter_config.json").write_text("{}")
    monkeypatch.setattr(loading, "is_peft_available", lambda: False)
    with pytest.raises(ImportError, match="needs peft"):
        Phi4MultimodalAdapter.load_model(tmp_path, dtype="float32")


def test_benchmark_model_and_prompt(tmp_path):
    config = bench.decoder_config(bench.PUBLISHED_SHAPES["5.6B"], num_layers=2)
    shape = DecoderShape.from_config(config)
    assert (shape.hidden_size, shape.num_heads, shape.num_kv_heads, shape.head_dim) == (3072, 24, 8, 128)
    assert shape.intermediate_size == 8192 and shape.sliding_layers == ()
    assert len(config.rope_parameters["short_factor"]) == 48  # rotary on 96 of 128 channels
    with pytest.raises(ValueError, match="no published shape 'mini'"):
        bench.random_model("mini", 2, dtype=torch.float32, attn_implementation="sdpa")
    path = tmp_path / "config.json"
    tiny.tiny_config(num_layers=2).to_json_file(path)
    model = Phi4MultimodalAdapter.random_model_from_config(path)
    adapter = adapter_for(model)
    assert adapter.special_token_ids() == [tiny.PAD_TOKEN, tiny.AUDIO_TOKEN, tiny.IMAGE_TOKEN]
    prompt = adapter.placeholder_prompt(50, text_before=4, text_after=16)
    ids = prompt["input_ids"][0]
    assert ids.shape == (70,) and adapter.audio_mask(prompt["input_ids"]).sum() == 50
    assert (ids[4:54] == tiny.AUDIO_TOKEN).all()
    assert not set(ids[:4].tolist() + ids[54:].tolist()) & set(adapter.special_token_ids())


# The decoder fields of microsoft/Phi-4-multimodal-instruct's config.json (the original one, as TensorRT-LLM's tests
# quote it, in the form transformers' conversion script writes: rope_scaling, audio_config, eos ids) with the long
# factors left at 1.0 here: they set angles, not shapes
RELEASED_CONFIG = {
    "architectures": ["Phi4MultimodalForCausalLM"], "model_type": "phi4_multimodal", "hidden_size": 3072,
    "intermediate_size": 8192, "num_hidden_layers": 32, "num_attention_heads": 24, "num_key_value_heads": 8,
    "max_position_embeddings": 131072, "original_max_position_embeddings": 4096, "partial_rotary_factor": 0.75,
    "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 262144, "vocab_size": 200064,
    "tie_word_embeddings": True, "bos_token_id": 199999, "pad_token_id": 199999, "eos_token_id": [199999, 200020],
    "rope_scaling": {"type": "longrope", "short_factor": [1.0] * 48, "long_factor": [1.0] * 48},
    "audio_config": {"hidden_size": 1024, "num_blocks": 24, "num_attention_heads": 16, "intermediate_size": 1536,
                     "time_reduction": 8, "input_size": 80, "bias_max_distance": 500},
    "vision_config": {"crop_size": 448},
}  # fmt: skip


def test_the_released_config_builds_the_published_shape(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(RELEASED_CONFIG))
    with torch.device("meta"):
        model = Phi4MultimodalAdapter.random_model_from_config(path)
    adapter = adapter_for(model)
    widths = bench.PUBLISHED_SHAPES["5.6B"]
    assert DecoderShape.from_config(adapter.text_config) == DecoderShape(3072, 24, 8, 128, 8192, 32)
    assert adapter.text_config.rope_parameters["partial_rotary_factor"] == widths["partial_rotary_factor"]
    assert adapter.text_config.rms_norm_eps == widths["rms_norm_eps"]
    assert model.model.rotary_emb.inv_freq.numel() * 2 == 96  # rotary on 96 of 128 channels
    assert [adapter.layer_type(i) for i in range(32)] == ["full_attention"] * 32  # 262144 never slides in 131072
    assert adapter.audio_token_id == 200011 and adapter.special_token_ids() == [199999, 200010, 200011]


def test_a_table_fits_the_checkpoint_it_was_calibrated_on(model, tmp_path):
    """Phi-4's decoder config is the whole model's, with the towers' configs nested: their load-dependent fields
    (dtype) must not change the hash a table is checked by."""
    from transformers import AutoConfig

    from headrouter.methods.headrouter.table import config_hash

    model.save_pretrained(tmp_path)
    loaded = loading.load_model(tmp_path, dtype="bfloat16")
    assert config_hash(adapter_for(loaded).text_config) == config_hash(adapter_for(model).text_config)
    assert config_hash(AutoConfig.from_pretrained(tmp_path)) == config_hash(adapter_for(model).text_config)
