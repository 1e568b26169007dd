"""The next-token divergence of pruning (headrouter/divergence.py): the definition computed by hand from the pruned
model's logits, zero when nothing is pruned, batched equal to one by one, and the model left as it came."""

from __future__ import annotations

import pytest
import torch
from conftest import prompts_mixed

import headrouter
from headrouter.adapters.qwen2_5_omni import tiny
from headrouter.divergence import next_token_log_probs, pruned_divergence
from headrouter.methods import FastV


def test_the_divergence_is_kl_of_the_pruned_logits_from_the_unpruned(model, batch):
    reference = next_token_log_probs(model, batch)
    divergence = pruned_divergence(model, batch, "fastv", 0.3, reference, prune_layer=2)
    with headrouter.pruning(model, 0.3, prune_layer=2, method="fastv"), torch.no_grad():
        pruned = model(**batch).logits[:, -1].double()
    unpruned = model(**batch).logits[:, -1].double()
    p, q = unpruned.softmax(-1), pruned.softmax(-1)
    expected = (p * (p.log() - q.log())).sum(-1)
    torch.testing.assert_close(divergence, expected, rtol=1e-6, atol=1e-10)
    # rows 0 and 1 carry audio and lose 70% of it; row 2 has none and is untouched
    assert (divergence[:2] > 1e-6).all() and divergence[2].abs() < 1e-9
    assert not hasattr(model, "headrouter")


def test_keeping_every_token_moves_nothing(model, batch):
    reference = next_token_log_probs(model, batch)
    divergence = pruned_divergence(model, batch, FastV(diversity=0.5), 1.0, reference, prune_layer=2)
    assert divergence.abs().max() < 1e-9


def test_batched_equals_one_by_one(models):
    model = models["sdpa"]
    prompts = prompts_mixed()
    together = tiny.encode(prompts, padding_side="left")
    batched = pruned_divergence(
        model, together, "headrouter", 0.3, next_token_log_probs(model, together), prune_layer=2
    )
    for row, prompt in enumerate(prompts):
        alone = tiny.encode([prompt])
        one = pruned_divergence(model, alone, "headrouter", 0.3, next_token_log_probs(model, alone), prune_layer=2)
        torch.testing.assert_close(batched[row], one[0], rtol=1e-4, atol=1e-7)


def test_a_wrapped_model_stays_wrapped_and_a_wrong_reference_is_refused(models, batch):
    model = models["eager"]
    headrouter.wrap(model, 0.5, method="frame")
    try:
        reference = next_token_log_probs(model, batch)  # the wrapped (frame, 0.5) model's own distribution
        assert pruned_divergence(model, batch, "frame", 0.5, reference, prune_layer=2).abs().max() < 1e-9
        assert model.headrouter.keep_ratio == 0.5 and model.headrouter.attached
        with pytest.raises(ValueError, match=r"reference has shape \(2, "):
            pruned_divergence(model, batch, "frame", 0.5, reference[:2], prune_layer=2)
    finally:
        headrouter.unwrap(model)
