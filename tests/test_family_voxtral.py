"""Voxtral beyond the shared proofs (tests/test_families.py): audio tokens per chunk, and inputs built through the real
``VoxtralProcessor`` over mistral-common's tokenizer (the tiny tekken of adapters/voxtral/tiny.py)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from transformers import VoxtralConfig, VoxtralForConditionalGeneration

from headrouter import adapters, bench
from headrouter.adapters import VoxtralAdapter, adapter_for
from headrouter.adapters.voxtral import tiny
from headrouter.bench import flops
from headrouter.testing import assert_pruned_equals_masked, proofs

CLIPS = [tiny.tone(9.0, 440.0, seed=1), tiny.tone(1.2, 300.0, seed=2)]
PROMPTS = ["What is it?", "Hi"]


@pytest.fixture(scope="module")
def model():
    return tiny.tiny_model()


@pytest.fixture(scope="module")
def processor():
    return tiny.tiny_processor()


def expected_ids(clip: np.ndarray, prompt: str) -> list[int]:
    """One conversation as mistral-common's v7 tokenizer writes it: ``<s> [INST] [BEGIN_AUDIO] [AUDIO]*n prompt
    [/INST]``, ``n`` being 50 per started 4 s chunk, the prompt one byte token per byte."""
    chunks = -(-clip.size // tiny.CHUNK_SAMPLES)
    audio = [tiny.BEGIN_AUDIO] + [tiny.AUDIO_TOKEN] * (50 * chunks)
    return [tiny.BOS, tiny.INST, *audio, *(tiny.FIRST_BYTE + b for b in prompt.encode()), tiny.END_INST]


def test_the_tower_outputs_one_token_per_placeholder_across_chunks(model):
    inputs = tiny.encode([tiny.audio_prompt([CLIPS[0]]), tiny.audio_prompt([tiny.tone(1.2), tiny.tone(0.8)])])
    assert inputs["input_features"].shape == (3 + 1 + 1, 128, 400)  # 9.0 s -> 3 chunks; each short clip -> 1
    with torch.no_grad():
        audio = model.model.get_audio_features(inputs["input_features"]).pooler_output
    assert audio.shape[0] == 250 == int((inputs["input_ids"] == tiny.AUDIO_TOKEN).sum())
    assert (inputs["input_ids"] == tiny.AUDIO_TOKEN).sum(-1).tolist() == [150, 100]


def test_the_released_encoder_gives_375_tokens_per_30_s_chunk():
    # transformers' default VoxtralConfig is Voxtral-Mini-3B-2507's: 1500 encoder positions per 3000-frame chunk,
    # merged 4 at a time by the projector (5120 = 4 * 1280 wide): 375 tokens per 30 s, 12.5 per second
    with torch.device("meta"):
        model = VoxtralForConditionalGeneration(VoxtralConfig(audio_token_id=24))
        audio = model.model.get_audio_features(torch.zeros(2, 128, 3000)).pooler_output
    assert audio.shape == (2 * 375, 3072)


def test_build_inputs_lays_out_the_processor_as_tiny_encode(model, processor):
    adapter = adapter_for(model)
    inputs = adapter.build_inputs(processor, CLIPS, PROMPTS)
    rows = [expected_ids(clip, prompt) for clip, prompt in zip(CLIPS, PROMPTS, strict=True)]
    width = max(len(r) for r in rows)
    assert inputs["input_ids"].tolist() == [[tiny.PAD_TOKEN] * (width - len(r)) + r for r in rows]  # left-padded
    assert inputs["attention_mask"].sum(-1).tolist() == [len(r) for r in rows]
    # the audio sent as float WAV comes back sample for sample: the same features as tiny.encode computes
    encoded = tiny.encode([tiny.audio_prompt([clip]) for clip in CLIPS])
    assert torch.equal(inputs["input_features"], encoded["input_features"])
    assert adapter.audio_mask(inputs["input_ids"]).sum(-1).tolist() == [150, 50]
    assert_pruned_equals_masked(model, inputs, "fastv", keep_ratio=0.3, prune_layer=2, steps=4)


def test_build_inputs_truncates_to_one_chunk(model, processor):
    inputs = adapter_for(model).build_inputs(processor, CLIPS, PROMPTS, truncate_audio=True)
    assert inputs["input_features"].shape[0] == 2
    assert (inputs["input_ids"] == tiny.AUDIO_TOKEN).sum(-1).tolist() == [50, 50]


def test_build_inputs_refuses_what_the_model_cannot_take(processor):
    other_chunk = adapter_for(tiny.tiny_model(num_layers=2))
    other_chunk.model.config.audio_config.max_source_positions = 1500  # the released 30 s chunk
    with pytest.raises(ValueError, match="do not match the model's encoder"):
        other_chunk.build_inputs(processor, CLIPS, PROMPTS)
    adapter = adapter_for(tiny.tiny_model(num_layers=2))
    with pytest.raises(ValueError, match="system messages"):  # mistral-common refuses a system prompt beside audio
        adapter.build_inputs(processor, CLIPS, PROMPTS, system_prompt="Be brief.")
    with pytest.raises(ValueError, match="non-empty 1-D"):
        adapter.build_inputs(processor, [np.zeros(0, np.float32)], ["a"])


def test_build_inputs_refuses_a_tokenizer_that_writes_no_placeholders(model, processor):
    # stands in for a VoxtralProcessor loaded without mistral-common (transformers then converts tekken.json into a
    # plain tokenizer, which writes no audio placeholders)
    plain = SimpleNamespace(feature_extractor=processor.feature_extractor, tokenizer=object())
    with pytest.raises(TypeError, match="MistralCommonBackend"):
        adapter_for(model).build_inputs(plain, CLIPS, PROMPTS)


def test_the_processor_round_trips_through_a_checkpoint(model, processor, tmp_path):
    processor.save_pretrained(tmp_path)
    model.save_pretrained(tmp_path)
    assert adapters.adapter_class_for_checkpoint(tmp_path) is VoxtralAdapter
    loaded = adapters.load_processor(tmp_path)
    assert type(loaded.tokenizer).__name__ == "MistralCommonBackend"
    again, inputs = (adapter_for(model).build_inputs(p, CLIPS, PROMPTS) for p in (loaded, processor))
    for key in ("input_ids", "attention_mask", "input_features"):
        assert torch.equal(again[key], inputs[key]), key
    alone = tmp_path / "processor"  # without the model's config.json, transformers alone would pick a plain tokenizer
    processor.save_pretrained(alone)
    assert type(VoxtralAdapter.load_processor(alone).tokenizer).__name__ == "MistralCommonBackend"


def test_loading_a_processor_without_mistral_common_names_the_package(monkeypatch, tmp_path):
    # loaded first with mistral-common at hand: a first import while it reads as missing would leave the module
    # without mistral-common's names for the rest of the session (order-dependent failures elsewhere)
    import transformers.models.voxtral.processing_voxtral  # noqa: F401

    monkeypatch.setattr("transformers.utils.is_mistral_common_available", lambda: False)
    with pytest.raises(ImportError, match="pip install 'mistral-common"):
        VoxtralAdapter.load_processor(tmp_path)


def test_transcription_requests_are_pruned_exactly(model, processor):
    # the processor's transcription API lays out <s> [INST] [BEGIN_AUDIO] [AUDIO]*n [/INST] lang:en [TRANSCRIBE]
    inputs = processor.apply_transcription_request(
        audio=CLIPS[0], model_id="tiny", language="en", sampling_rate=tiny.SAMPLE_RATE, format="wav",
        audio_kwargs={"pad_to_multiple_of": tiny.CHUNK_SAMPLES, "max_source_positions": tiny.CHUNK_FRAMES},
    )  # fmt: skip
    ids = inputs["input_ids"][0].tolist()
    assert ids[:3] == [tiny.BOS, tiny.INST, tiny.BEGIN_AUDIO] and ids[-1] == tiny.TRANSCRIBE
    assert adapter_for(model).audio_mask(inputs["input_ids"]).sum().item() == 150
    assert proofs.forward_logits(model, inputs).shape[1] == len(ids)
    assert_pruned_equals_masked(model, inputs, "random", keep_ratio=0.4, prune_layer=2, steps=4)


# ---------------------------------------------------------------------- the benchmarking section

# Voxtral-Small-24B-2507's config.json as far as it sets the decoder and the placeholder (as a verified duplicate of
# the repository on the hub quotes it); Voxtral-Mini-3B-2507's is transformers' default VoxtralConfig
SMALL_CONFIG = {
    "architectures": ["VoxtralForConditionalGeneration"], "model_type": "voxtral", "audio_token_id": 24,
    "text_config": {
        "model_type": "llama", "head_dim": 128, "hidden_size": 5120, "intermediate_size": 32768,
        "max_position_embeddings": 131072, "num_attention_heads": 32, "num_hidden_layers": 40,
        "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 100000000.0, "vocab_size": 131072,
    },
}  # fmt: skip


def published(shape: str, layers: int | None = None) -> flops.DecoderShape:
    w = VoxtralAdapter.published_shapes[shape]
    return flops.DecoderShape(
        w["hidden_size"], w["num_attention_heads"], w["num_key_value_heads"], w["head_dim"], w["intermediate_size"],
        layers or w["num_hidden_layers"],
    )  # fmt: skip


def test_random_models_have_the_published_widths():
    assert list(VoxtralAdapter.published_shapes) == ["3B", "24B"]  # the first is the benchmark's default
    assert bench.family_adapter("voxtral") is VoxtralAdapter
    assert published("3B") == flops.DecoderShape(3072, 32, 8, 128, 8192, 30)
    assert published("24B") == flops.DecoderShape(5120, 32, 8, 128, 32768, 40)
    for shape, widths in VoxtralAdapter.published_shapes.items():
        with torch.device("meta"):  # the widths, not the weights
            built = VoxtralAdapter.random_model(shape, num_layers=3, dtype=torch.bfloat16)
        adapter = adapter_for(built)
        assert flops.DecoderShape.from_config(adapter.text_config) == published(shape, 3)
        assert adapter.text_config.rope_parameters["rope_theta"] == widths["rope_theta"] == 1e8
        assert adapter.text_config.vocab_size == tiny.VOCAB_SIZE and adapter.forward_module.dtype == torch.bfloat16
        assert not adapter.forward_module.training
    with pytest.raises(ValueError, match="no published shape '1B'; known: 3B, 24B"):
        VoxtralAdapter.random_model("1B", num_layers=2)
    with pytest.raises(ValueError, match="num_layers must be an int >= 1"):
        VoxtralAdapter.random_model("3B", num_layers=0)


@pytest.mark.parametrize(
    "shape, config", [("3B", VoxtralConfig(audio_token_id=24).to_dict()), ("24B", SMALL_CONFIG)], ids=["3B", "24B"]
)
def test_the_released_configs_build_the_published_shapes(shape, config, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with torch.device("meta"):
        built = VoxtralAdapter.random_model_from_config(path)
    adapter = adapter_for(built)
    assert flops.DecoderShape.from_config(adapter.text_config) == published(shape)
    assert adapter.text_config.rope_parameters["rope_theta"] == 1e8 and adapter.audio_token_id == 24
    # the released vocabularies start with 1000 control ids; a random model writes none of them but </s>
    assert adapter.special_token_ids() == [i for i in range(1000) if i != 2]
    ids = adapter.placeholder_prompt(5, text_before=3, text_after=3)["input_ids"][0].tolist()
    assert ids[3:9] == [25] + [24] * 5 and min(ids[:3] + ids[9:]) >= 1000


def test_placeholder_prompt_lays_out_one_clip_as_the_processor_does(model, processor):
    adapter = adapter_for(model)
    assert adapter.special_token_ids() == sorted(tiny.SPECIAL_TOKENS)
    prompt = adapter.placeholder_prompt(25, text_before=4, text_after=6, seed=3)
    ids = prompt["input_ids"][0].tolist()
    assert torch.equal(prompt["attention_mask"], torch.ones(1, 4 + 1 + 25 + 6, dtype=torch.long))
    assert ids[4:30] == [tiny.BEGIN_AUDIO] + [tiny.AUDIO_TOKEN] * 25  # [BEGIN_AUDIO], placeholders, no end token
    assert min(ids[:4] + ids[30:]) >= tiny.FIRST_BYTE  # text: never a control id
    # the processor's own layout around a clip: [BEGIN_AUDIO] before the placeholders, the prompt's text after
    row = adapter.build_inputs(processor, [tiny.tone(1.0)], ["Which note?"])["input_ids"][0].tolist()
    first, last = row.index(tiny.AUDIO_TOKEN), len(row) - row[::-1].index(tiny.AUDIO_TOKEN) - 1
    assert row[first - 1] == tiny.BEGIN_AUDIO and row[last + 1] >= tiny.FIRST_BYTE
    assert adapter.placeholder_prompt(25, text_before=4, text_after=6, seed=3)["input_ids"][0].tolist() == ids
    assert adapter.placeholder_prompt(25, text_before=4, text_after=6, seed=4)["input_ids"][0].tolist() != ids
    with pytest.raises(ValueError, match="audio_tokens >= 1"):
        adapter.placeholder_prompt(0, text_before=4, text_after=6)


def test_bench_runs_on_the_family(tmp_path):
    path = tmp_path / "config.json"
    tiny.tiny_config(num_layers=4).to_json_file(path)
    settings = bench.BenchSettings(
        family="voxtral", config_path=str(path), lengths=(20,), keep_ratios=(1.0, 0.5), methods=("fastv",), runs=1,
        decode_tokens=2, progress=False,
    )  # fmt: skip
    results = bench.run_benchmark(settings)
    assert results["model"]["family"] == "voxtral"
    cells = {(c["method"], c["keep_ratio"]): c for c in results["cells"]}
    assert set(cells) == {("none", None), ("fastv", 1.0), ("fastv", 0.5)}
    assert cells["fastv", 0.5]["audio_tokens_after"] == 10 < cells["fastv", 1.0]["audio_tokens_after"] == 20
    assert all(c["tokens_before"] == bench.TEXT_BEFORE + 1 + 20 + bench.TEXT_AFTER for c in cells.values())
