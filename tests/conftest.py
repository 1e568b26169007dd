"""Shared fixtures: tiny random Qwen2.5-Omni models and prompts, built locally (no downloads)."""

from __future__ import annotations

import pytest
import torch

from headrouter.adapters.qwen2_5_omni import tiny

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def models():
    """One tiny thinker per attention implementation, same weights."""
    return {impl: tiny.tiny_model(attn_implementation=impl) for impl in ("eager", "sdpa")}


@pytest.fixture(params=["eager", "sdpa"])
def model(request, models):
    m = models[request.param]
    yield m
    import headrouter

    headrouter.unwrap(m)


def prompts_mixed():
    """Three samples of different audio lengths and layouts; the last has no audio at all."""
    return [
        tiny.audio_prompt([tiny.tone(3.0, 440.0, seed=1)], text_lengths=[4, 9], seed=1),
        tiny.audio_prompt(
            [tiny.tone(1.2, 300.0, seed=2), tiny.tone(0.8, 900.0, seed=3)], text_lengths=[3, 5, 6], seed=2
        ),
        tiny.audio_prompt([], text_lengths=[11], seed=3),
    ]


@pytest.fixture
def batch():
    return tiny.encode(prompts_mixed(), padding_side="left")


@pytest.fixture
def single():
    return tiny.encode(prompts_mixed()[:1])


def cache_kwarg(module) -> str:
    """A forward's cache argument: ``cache`` from transformers 5.24 on, ``past_key_values`` before (CI runs both)."""
    import inspect

    return "cache" if "cache" in inspect.signature(module.forward).parameters else "past_key_values"
