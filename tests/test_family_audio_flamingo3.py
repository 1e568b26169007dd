"""Audio Flamingo 3 beyond the shared proofs (tests/test_families.py): how its inputs are built."""

from __future__ import annotations

import numpy as np
import pytest

from headrouter.adapters import adapter_for
from headrouter.adapters.audio_flamingo3 import tiny


class _Extractor:
    sampling_rate = 16_000
    n_samples = 5 * 16_000


class _Processor:
    """Stands in for ``AudioFlamingo3Processor`` (no checkpoint offline): records what build_inputs sends it."""

    feature_extractor = _Extractor()
    max_audio_len = 20  # seconds

    def __init__(self):
        self.calls = []

    def apply_chat_template(self, conversation, **kwargs):
        return "text"

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        return kwargs


def test_build_inputs_windows_through_the_processor():
    adapter = adapter_for(tiny.tiny_model())
    processor = _Processor()
    long, short = np.zeros(12 * 16_000, np.float32), np.zeros(16_000, np.float32)
    inputs = adapter.build_inputs(processor, [long, short], ["a", "b"])
    # whole clips, several windows long, and no max_length/truncation: the processor windows them itself
    assert [w.size for w in inputs["audio"]] == [long.size, short.size] and inputs["audio_kwargs"] == {}
    cut = adapter.build_inputs(processor, [long, short], ["a", "b"], truncate_audio=True)
    assert [w.size for w in cut["audio"]] == [5 * 16_000, short.size]
    with pytest.raises(ValueError, match="at most 20 s"):
        adapter.build_inputs(processor, [np.zeros(21 * 16_000, np.float32)], ["a"])


def test_the_tower_outputs_one_token_per_placeholder_across_windows():
    model = tiny.tiny_model()
    # 6.0 s -> two windows of the tiny 5 s tower (125 + 25 tokens); 1.2 s + 0.8 s -> 30 + 20
    prompts = [tiny.audio_prompt([tiny.tone(6.0, 440.0, seed=1)]), tiny.audio_prompt([tiny.tone(1.2), tiny.tone(0.8)])]
    inputs = tiny.encode(prompts)
    _, lengths = model.model.audio_tower._get_feat_extract_output_lengths(inputs["input_features_mask"].sum(-1))
    assert lengths.tolist() == [125, 25, 30, 20]
    assert (inputs["input_ids"] == tiny.AUDIO_TOKEN).sum(-1).tolist() == [150, 50]
