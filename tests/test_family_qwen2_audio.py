"""Qwen2-Audio beyond the shared proofs (tests/test_families.py): inputs it refuses."""

from __future__ import annotations

import pytest
import torch

import headrouter
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
