"""Qwen2-Audio beyond the shared proofs (tests/test_families.py, tests/test_family_pipeline.py): inputs it refuses,
and its inputs through its real processor (tiny.tiny_processor)."""

from __future__ import annotations

import pytest
import torch

import headrouter
from headrouter.adapters import adapter_for
from headrouter.adapters.qwen2_audio import tiny
from headrouter.testing import proofs


def test_legacy_single_placeholder_ids_are_refused():
    model = tiny.tiny_model()
    inputs = tiny.encode([tiny.audio_prompt([tiny.tone(3.0, 440.0, seed=1)], text_lengths=[4, 9], seed=1)])
    ids = inputs["input_ids"]
    audio = ids == tiny.AUDIO_TOKEN
    first = int(audio[0].nonzero()[0])
    legacy = torch.cat([ids[:, : first + 1], ids[:, ~audio[0]][:, first:]], 1)
    legacy_inputs = {**inputs, "input_ids": legacy, "attention_mask": torch.ones_like(legacy)}
    headrouter.wrap(model, keep_ratio=0.5)
    with pytest.raises(ValueError, match="one <\\|AUDIO\\|> placeholder per clip"):
        proofs.forward_logits(model, legacy_inputs)


def test_the_tower_outputs_one_token_per_placeholder():
    model = tiny.tiny_model()
    prompts = [tiny.audio_prompt([tiny.tone(3.0, 440.0, seed=1)]), tiny.audio_prompt([tiny.tone(1.2), tiny.tone(0.8)])]
    inputs = tiny.encode(prompts)
    _, lengths = model.model.audio_tower._get_feat_extract_output_lengths(inputs["feature_attention_mask"].sum(-1))
    assert lengths.tolist() == [75, 30, 20]
    assert (inputs["input_ids"] == tiny.AUDIO_TOKEN).sum(-1).tolist() == [75, 50]


def test_build_inputs_through_the_processor_take_one_window():
    model = tiny.tiny_model()
    adapter = adapter_for(model)
    processor = tiny.tiny_processor()
    wavs = [tiny.tone(3.0, 440.0, seed=1), tiny.tone(1.2, 300.0, seed=2)]
    inputs = adapter.build_inputs(processor, wavs, ["a", "b"])
    # every clip's features padded to the tower's one window, as its encoder requires
    assert inputs["input_features"].shape == (2, 128, tiny.WINDOW_FRAMES)
    assert adapter.audio_mask(inputs["input_ids"]).sum(-1).tolist() == [75, 30]
    with torch.no_grad():
        assert model(**inputs).logits.shape[:2] == inputs["input_ids"].shape
    long = tiny.tone(6.0)
    with pytest.raises(ValueError, match="at most 80000 samples per clip \\(5 s\\); pass truncate_audio=True"):
        adapter.build_inputs(processor, [long], ["a"])
    cut = adapter.build_inputs(processor, [long], ["a"], truncate_audio=True)
    assert adapter.audio_mask(cut["input_ids"]).sum().item() == 125


def test_chat_template_is_the_released_one():
    # the prompt transformers' tests expect from Qwen/Qwen2-Audio-7B-Instruct's chat template
    processor = tiny.tiny_processor()
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": [{"type": "audio", "audio_url": "a"}, {"type": "text", "text": "What's that?"}]},
        {"role": "assistant", "content": "Glass."},
        {"role": "user", "content": [{"type": "audio", "audio_url": "b"}, {"type": "text", "text": "And this?"}]},
    ]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nAudio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\nWhat's that?<|im_end|>\n"
        "<|im_start|>assistant\nGlass.<|im_end|>\n"
        "<|im_start|>user\nAudio 2: <|audio_bos|><|AUDIO|><|audio_eos|>\nAnd this?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
