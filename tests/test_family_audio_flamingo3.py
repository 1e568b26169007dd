"""Audio Flamingo 3 beyond the shared proofs (tests/test_families.py, tests/test_family_pipeline.py): how its inputs
are built through its real processor (tiny.tiny_processor)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from headrouter.adapters import adapter_for
from headrouter.adapters.audio_flamingo3 import tiny


def test_build_inputs_windows_through_the_processor():
    adapter = adapter_for(tiny.tiny_model())
    processor = tiny.tiny_processor()
    # 12 s -> windows of 5 + 5 + 2 s of the tiny tower: 125 + 125 + 50 audio tokens, heard whole
    long, short = tiny.tone(12.0, 440.0, seed=1), tiny.tone(1.0, 300.0, seed=2)
    inputs = adapter.build_inputs(processor, [long, short], ["a", "b"])
    assert adapter.audio_mask(inputs["input_ids"]).sum(-1).tolist() == [300, 25]
    assert inputs["input_features_mask"].sum(-1).tolist() == [500, 500, 200, 100]
    cut = adapter.build_inputs(processor, [long, short], ["a", "b"], truncate_audio=True)
    assert adapter.audio_mask(cut["input_ids"]).sum(-1).tolist() == [125, 25]
    with pytest.raises(ValueError, match="at most 100 s"):
        adapter.build_inputs(processor, [np.zeros(101 * tiny.SAMPLE_RATE, np.float32)], ["a"])


def test_short_clips_get_whole_windows_of_features():
    # the encoder takes exactly one window per row: features of clips shorter than a window are padded to it
    model = tiny.tiny_model()
    adapter = adapter_for(model)
    inputs = adapter.build_inputs(tiny.tiny_processor(), [tiny.tone(1.0), tiny.tone(2.0)], ["a", "b"])
    assert inputs["input_features"].shape == (2, 128, tiny.WINDOW_FRAMES)
    assert inputs["input_features_mask"].sum(-1).tolist() == [100, 200]
    with torch.no_grad():
        assert model(**inputs).logits.shape[:2] == inputs["input_ids"].shape


def test_chat_template_is_the_released_one():
    # the prompt transformers' tests expect from nvidia/audio-flamingo-3-hf: one <sound> before the turn's text
    processor = tiny.tiny_processor()
    question = "What is surprising about the relationship between the barking and the music?"
    conversation = [{"role": "user", "content": [{"type": "text", "text": question}, {"type": "audio", "path": "x"}]}]
    text = processor.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        f"<|im_start|>user\n<sound>{question}<|im_end|>\n<|im_start|>assistant\n"
    )
    inputs = adapter_for(tiny.tiny_model()).build_inputs(
        processor, [tiny.tone(1.0)], ["Why?"], system_prompt="Be brief."
    )
    ids = inputs["input_ids"][0].tolist()
    assert processor.tokenizer.decode(ids[: ids.index(tiny.AUDIO_TOKEN)]) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n"
    )
    assert processor.tokenizer.decode(ids[ids.index(tiny.AUDIO_TOKEN) + 25 :]) == (
        "Why?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_the_tower_outputs_one_token_per_placeholder_across_windows():
    model = tiny.tiny_model()
    # 6.0 s -> two windows of the tiny 5 s tower (125 + 25 tokens); 1.2 s + 0.8 s -> 30 + 20
    prompts = [tiny.audio_prompt([tiny.tone(6.0, 440.0, seed=1)]), tiny.audio_prompt([tiny.tone(1.2), tiny.tone(0.8)])]
    inputs = tiny.encode(prompts)
    _, lengths = model.model.audio_tower._get_feat_extract_output_lengths(inputs["input_features_mask"].sum(-1))
    assert lengths.tolist() == [125, 25, 30, 20]
    assert (inputs["input_ids"] == tiny.AUDIO_TOKEN).sum(-1).tolist() == [150, 50]
