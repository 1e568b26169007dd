"""Qwen2-Audio: the engine's proofs on a tiny random Qwen2AudioForConditionalGeneration (eager and sdpa)."""

from __future__ import annotations

import functools

import pytest
import torch

import headrouter
from headrouter.adapters import adapter_for
from headrouter.adapters.qwen2_audio import Qwen2AudioAdapter, tiny
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
    """Two samples of different audio lengths (3.0 s; 1.2 s + 0.8 s) and layouts."""
    return [
        tiny.audio_prompt([tiny.tone(3.0, 440.0, seed=1)], text_lengths=[4, 9], seed=1),
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
    assert isinstance(adapter, Qwen2AudioAdapter)
    assert adapter.audio_token_id == tiny.AUDIO_TOKEN
    assert adapter.num_layers == 4 and adapter.num_heads == 4
    # 3.0 s -> 75 audio tokens; 1.2 s + 0.8 s -> 30 + 20, what the audio tower outputs (25 per second)
    assert adapter.audio_mask(batch["input_ids"]).sum(-1).tolist() == [75, 50]
    tower = models["sdpa"].model.audio_tower
    _, lengths = tower._get_feat_extract_output_lengths(batch["feature_attention_mask"].sum(-1))
    assert lengths.tolist() == [75, 30, 20]


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


def test_legacy_single_placeholder_ids_are_refused(models):
    model = models["sdpa"]
    inputs = tiny.encode(prompts()[:1])
    ids = inputs["input_ids"]
    audio = ids == tiny.AUDIO_TOKEN
    first = int(audio[0].nonzero()[0])
    legacy = torch.cat([ids[:, : first + 1], ids[:, ~audio[0]][:, first:]], 1)
    legacy_inputs = {**inputs, "input_ids": legacy, "attention_mask": torch.ones_like(legacy)}
    headrouter.wrap(model, keep_ratio=0.5)
    try:
        with pytest.raises(ValueError, match="one <\\|AUDIO\\|> placeholder per clip"):
            logits(model, legacy_inputs)
    finally:
        headrouter.unwrap(model)
