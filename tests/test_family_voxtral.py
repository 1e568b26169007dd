"""Voxtral beyond the shared proofs (tests/test_families.py): audio tokens per chunk, and inputs built through the real
``VoxtralProcessor`` over mistral-common's tokenizer (the tiny tekken of adapters/voxtral/tiny.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from transformers import VoxtralConfig, VoxtralForConditionalGeneration

from headrouter import adapters
from headrouter.adapters import VoxtralAdapter, adapter_for
from headrouter.adapters.voxtral import tiny
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


def test_loading_a_processor_without_mistral_common_names_the_package(monkeypatch, tmp_path):
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
