"""MusicFlamingo beyond the shared proofs (tests/test_families.py): its rotary time embeddings act on the audio
embeddings, not on the decoder's positions; the tower's windows against the framed placeholders; its processor; the
benchmark's model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import headrouter
from headrouter.adapters import MusicFlamingoAdapter, adapter_for
from headrouter.adapters.musicflamingo import bench, tiny
from headrouter.bench.flops import DecoderShape
from headrouter.testing import assert_pruned_equals_masked, proofs


@pytest.fixture(scope="module")
def model():
    return tiny.tiny_model(attn_implementation="eager")


def prompts():
    return [
        tiny.audio_prompt([tiny.tone(6.0, 440.0, seed=1)], text_lengths=[4, 9], seed=1),
        tiny.audio_prompt([tiny.tone(1.2, 300.0, seed=2), tiny.tone(0.8, 900.0, seed=3)], text_lengths=[3, 5, 6]),
    ]


def test_the_tower_outputs_one_token_per_placeholder_framed_by_boundaries(model):
    inputs = tiny.encode(prompts())
    _, lengths = model.model.audio_tower._get_feat_extract_output_lengths(inputs["input_features_mask"].sum(-1))
    assert lengths.tolist() == [125, 25, 30, 20]  # 6.0 s in two windows of the tiny 5 s tower; 1.2 s; 0.8 s
    ids = inputs["input_ids"]
    runs = []
    for row in ids:
        audio = (row == tiny.AUDIO_TOKEN).int()
        starts = (torch.diff(audio, prepend=torch.tensor([0])) == 1).nonzero().squeeze(-1)
        ends = (torch.diff(audio, append=torch.tensor([0])) == -1).nonzero().squeeze(-1)
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            assert row[start - 1] == tiny.AUDIO_BOS and row[end + 1] == tiny.AUDIO_EOS
            runs.append(end - start + 1)
    assert runs == [150, 30, 20]


def test_rotary_time_embeddings_change_the_audio_embeddings_only(model, monkeypatch):
    inputs = tiny.encode(prompts())
    ids = inputs["input_ids"]
    features = {k: inputs[k] for k in ("input_features", "input_features_mask")}
    with torch.no_grad():
        timed = model.model.get_audio_features(**features, input_ids=ids).pooler_output
        # the same without the time rotation (cos 1, sin 0): the rotary time embeddings are in the embeddings only
        monkeypatch.setattr(
            model.model.pos_emb, "forward", lambda t, seq_len: (torch.ones(*t.shape, 12), torch.zeros(*t.shape, 12))
        )
        untimed = model.model.get_audio_features(**features, input_ids=ids).pooler_output
    assert timed.shape == untimed.shape == (200, 64)
    assert (timed - untimed).abs().max() > 1e-2


def test_the_decoder_rotary_is_qwen2s_one_dimensional_rope(model):
    adapter = adapter_for(model)
    inputs = tiny.encode(prompts())
    seen = {}

    def keep(module, args, kwargs):
        seen.setdefault("position_ids", kwargs.get("position_ids"))

    handle = adapter.layers[0].register_forward_pre_hook(keep, with_kwargs=True)
    try:
        proofs.forward_logits(model, inputs)
    finally:
        handle.remove()
    # one text position per token (the processor's left padding aside), audio or not: nothing time-based
    assert seen["position_ids"].shape[-1] == inputs["input_ids"].shape[1]
    assert torch.equal(seen["position_ids"][0], torch.arange(inputs["input_ids"].shape[1]))


def test_build_inputs_through_the_real_processor_lays_out_as_encode(model):
    adapter = adapter_for(model)
    processor = tiny.tiny_processor()
    wavs = [tiny.tone(6.0, seed=1), tiny.tone(1.2, seed=2)]
    inputs = adapter.build_inputs(processor, wavs, ["Which key?", "Tempo?"])
    encoded = tiny.encode([tiny.audio_prompt([w]) for w in wavs])
    assert adapter.audio_mask(inputs["input_ids"]).sum(-1).tolist() == [150, 30]
    assert adapter.audio_mask(encoded["input_ids"]).sum(-1).tolist() == [150, 30]
    assert torch.equal(inputs["input_features"], encoded["input_features"])
    assert torch.equal(inputs["input_features_mask"], encoded["input_features_mask"])
    text = processor.tokenizer.decode(inputs["input_ids"][1][inputs["attention_mask"][1].bool()])
    assert text.startswith(f"<|im_start|>system\n{tiny.SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n<|sound_bos|>")
    assert text.endswith("<|sound_eos|>Tempo?<|im_end|>\n<|im_start|>assistant\n")
    assert_pruned_equals_masked(model, inputs, "fastv", keep_ratio=0.3, prune_layer=2, steps=4)


def test_build_inputs_windows_and_limits_as_audio_flamingo3():
    adapter = MusicFlamingoAdapter(tiny.tiny_model())
    processor = tiny.tiny_processor(max_audio_len=10)
    long = np.zeros(9 * tiny.SAMPLE_RATE, np.float32)
    assert adapter.build_inputs(processor, [long], ["a"])["input_features"].shape[0] == 2  # two 5 s windows
    cut = adapter.build_inputs(processor, [long], ["a"], truncate_audio=True)
    assert cut["input_features"].shape[0] == 1 and adapter.audio_mask(cut["input_ids"]).sum() == 125
    with pytest.raises(ValueError, match="at most 10 s"):
        adapter.build_inputs(processor, [np.zeros(11 * tiny.SAMPLE_RATE, np.float32)], ["a"])


def test_processor_round_trips_with_its_chat_template(tmp_path):
    adapter = MusicFlamingoAdapter(tiny.tiny_model())
    processor = tiny.tiny_processor()
    processor.save_pretrained(tmp_path)
    loaded = MusicFlamingoAdapter.load_processor(tmp_path)
    assert type(loaded) is type(processor) and loaded.chat_template == tiny.CHAT_TEMPLATE
    wavs = [tiny.tone(0.7)]
    a, b = adapter.build_inputs(processor, wavs, ["hi"]), adapter.build_inputs(loaded, wavs, ["hi"])
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_load_model_round_trips(tmp_path):
    saved = tiny.tiny_model()
    saved.save_pretrained(tmp_path)
    loaded = MusicFlamingoAdapter.load_model(tmp_path, dtype="float32")
    inputs = tiny.encode(prompts()[:1])
    assert not loaded.training
    assert torch.equal(proofs.forward_logits(loaded, inputs), proofs.forward_logits(saved, inputs))
    with headrouter.pruning(loaded, 0.5) as pruner:
        proofs.forward_logits(loaded, inputs)
    assert pruner.records[0].audio_tokens_after == 75


def test_benchmark_model_and_prompt(tmp_path):
    config = bench.model_config(bench.PUBLISHED_SHAPES["8B"], num_layers=2)
    assert DecoderShape.from_config(config.text_config) == DecoderShape(3584, 28, 4, 128, 18944, 2)
    with pytest.raises(ValueError, match="no published shape '7B'"):
        bench.random_model("7B", 2, dtype=torch.float32, attn_implementation="sdpa")
    path = tmp_path / "config.json"
    tiny.tiny_config(num_layers=2).to_json_file(path)
    model = MusicFlamingoAdapter.random_model_from_config(path)
    adapter = adapter_for(model)
    assert adapter.special_token_ids() == sorted(tiny.SPECIAL_TOKENS)
    prompt = adapter.placeholder_prompt(50, text_before=4, text_after=16)
    ids = prompt["input_ids"][0]
    assert ids.shape == (72,) and adapter.audio_mask(prompt["input_ids"]).sum() == 50
    assert ids[4] == tiny.AUDIO_BOS and (ids[5:55] == tiny.AUDIO_TOKEN).all() and ids[55] == tiny.AUDIO_EOS
    assert not set(ids[:4].tolist() + ids[56:].tolist()) & set(adapter.special_token_ids())


# nvidia/music-flamingo-2601-hf's config.json as far as transformers' conversion script sets it (the Qwen2 decoder,
# RoTE theta) and the released placeholder id (151667, not the config class's default)
RELEASED_CONFIG = {
    "architectures": ["MusicFlamingoForConditionalGeneration"], "model_type": "musicflamingo",
    "audio_token_id": 151667, "rope_parameters": {"rope_type": "default", "rope_theta": 1200},
    "text_config": {
        "model_type": "qwen2", "hidden_size": 3584, "intermediate_size": 18944, "num_attention_heads": 28,
        "num_hidden_layers": 28, "num_key_value_heads": 4, "rope_theta": 1000000.0, "vocab_size": 151672,
        "max_position_embeddings": 32768, "use_cache": False,
    },
}  # fmt: skip


def test_the_released_config_builds_the_published_shape(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(RELEASED_CONFIG))
    with torch.device("meta"):
        model = MusicFlamingoAdapter.random_model_from_config(path)
    adapter = adapter_for(model)
    widths = bench.PUBLISHED_SHAPES["8B"]
    assert DecoderShape.from_config(adapter.text_config) == DecoderShape(3584, 28, 4, 128, 18944, 28)
    assert adapter.text_config.rope_parameters["rope_theta"] == widths["rope_theta"]
    assert adapter.text_config.rms_norm_eps == widths["rms_norm_eps"]
    assert adapter.audio_token_id == 151667
    assert [adapter.layer_type(i) for i in range(28)] == ["full_attention"] * 28
