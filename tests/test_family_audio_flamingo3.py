"""Audio Flamingo 3: the engine's proofs on a tiny random AudioFlamingo3ForConditionalGeneration (eager and sdpa)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import headrouter
from headrouter.adapters import adapter_for
from headrouter.adapters.audio_flamingo3 import AudioFlamingo3Adapter, tiny
from headrouter.methods import ScoringMethod
from headrouter.testing import assert_pruned_equals_masked, proofs

STEPS = 8


@pytest.fixture(scope="module")
def models():
    return {impl: tiny.tiny_model(attn_implementation=impl) for impl in ("eager", "sdpa")}


@pytest.fixture(params=["eager", "sdpa"])
def model(request, models):
    m = models[request.param]
    yield m
    headrouter.unwrap(m)


def prompts():
    """Two samples of different audio lengths (6.0 s, two windows of the tiny 5 s tower; 1.2 s + 0.8 s) and layouts."""
    return [
        tiny.audio_prompt([tiny.tone(6.0, 440.0, seed=1)], text_lengths=[4, 9], seed=1),
        tiny.audio_prompt(
            [tiny.tone(1.2, 300.0, seed=2), tiny.tone(0.8, 900.0, seed=3)], text_lengths=[3, 5, 6], seed=2
        ),
    ]


@pytest.fixture(scope="module")
def batch():
    return tiny.encode(prompts())


greedy = functools.partial(proofs.greedy, steps=STEPS)
logits = proofs.forward_logits


def test_adapter_and_placeholder_counts(models, batch):
    adapter = adapter_for(models["sdpa"])
    assert isinstance(adapter, AudioFlamingo3Adapter)
    assert adapter.audio_token_id == tiny.AUDIO_TOKEN
    assert adapter.num_layers == 4 and adapter.num_heads == 4
    # 6.0 s -> 150 audio tokens (windows of 5.0 s + 1.0 s: 125 + 25); 1.2 s + 0.8 s -> 30 + 20 (25 per second)
    assert adapter.audio_mask(batch["input_ids"]).sum(-1).tolist() == [150, 50]
    tower = models["sdpa"].model.audio_tower
    _, lengths = tower._get_feat_extract_output_lengths(batch["input_features_mask"].sum(-1))
    assert lengths.tolist() == [125, 25, 30, 20]  # one row per window, as the model computes them


def test_keep_ratio_one_equals_unwrapped(model, batch):
    ref_logits = logits(model, batch)
    ref_tokens, ref_scores = greedy(model, batch)
    headrouter.wrap(model, keep_ratio=1.0)
    assert torch.allclose(logits(model, batch), ref_logits, atol=1e-5)
    tokens, scores = greedy(model, batch)
    assert torch.equal(tokens, ref_tokens)
    assert torch.allclose(scores, ref_scores, atol=1e-5)


@pytest.mark.parametrize("method", ["fastv", "random", "frame", "dart", "segment", "headrouter"])
def test_pruned_equals_masked_reference(model, batch, method):
    assert_pruned_equals_masked(model, batch, method, keep_ratio=0.3, prune_layer=2, steps=STEPS)


def test_batch_equals_one_by_one(model, batch):
    headrouter.wrap(model, keep_ratio=0.5)
    tokens, scores = greedy(model, batch)
    for i, prompt in enumerate(prompts()):
        alone_tokens, alone_scores = greedy(model, tiny.encode([prompt]))
        assert torch.equal(tokens[i], alone_tokens[0]), i
        assert torch.allclose(scores[i], alone_scores[0], atol=1e-4), i


def test_unwrap_restores_exactly(model, batch):
    ref_logits = logits(model, batch)
    ref_tokens, _ = greedy(model, batch)
    headrouter.wrap(model, keep_ratio=0.3)
    assert logits(model, batch).shape[1] < ref_logits.shape[1]  # pruned: fewer positions
    greedy(model, batch)
    headrouter.unwrap(model)
    assert torch.equal(logits(model, batch), ref_logits)
    assert torch.equal(greedy(model, batch)[0], ref_tokens)


def test_captured_rows_equal_eager_output_attentions(models, batch):
    model = models["eager"]
    captured = {}

    class Spy(ScoringMethod):
        name = "spy"
        queries = "after_audio"

        def score(self, ctx):
            captured.update(attention=ctx.attention, index=ctx.query_index, valid=ctx.query_mask)
            return torch.zeros(ctx.audio_mask.shape)

    with torch.no_grad():
        attentions = model(**batch, output_attentions=True).attentions
    with headrouter.pruning(model, keep_ratio=0.5, prune_layer=3, method=Spy()):
        logits(model, batch)
    layer = attentions[2]  # layer K-1
    rows = torch.arange(layer.shape[0])[:, None]
    expected = layer[rows, :, captured["index"]].transpose(1, 2)  # (B, H, Q, L)
    valid = captured["valid"]
    assert valid.sum() > valid.shape[0]
    got, want = captured["attention"].transpose(1, 2)[valid], expected.transpose(1, 2)[valid]
    assert torch.allclose(got, want, atol=1e-6)


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


def test_build_inputs_windows_through_the_processor(models):
    adapter = adapter_for(models["sdpa"])
    processor = _Processor()
    long, short = np.zeros(12 * 16_000, np.float32), np.zeros(16_000, np.float32)
    inputs = adapter.build_inputs(processor, [long, short], ["a", "b"])
    # whole clips, several windows long, and no max_length/truncation: the processor windows them itself
    assert [w.size for w in inputs["audio"]] == [long.size, short.size] and inputs["audio_kwargs"] == {}
    cut = adapter.build_inputs(processor, [long, short], ["a", "b"], truncate_audio=True)
    assert [w.size for w in cut["audio"]] == [5 * 16_000, short.size]
    with pytest.raises(ValueError, match="at most 20 s"):
        adapter.build_inputs(processor, [np.zeros(21 * 16_000, np.float32)], ["a"])
