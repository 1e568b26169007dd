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
