"""Pruned caches carry what continuing them needs: any number of them, their deep copies, caches transformers made
inside a forward, later turns; each continued exactly as the masked reference continues the same calls."""

from __future__ import annotations

import copy
import logging

import pytest
import torch
from conftest import cache_kwarg, prompts_mixed

import headrouter
from headrouter.adapters.qwen2_5_omni import tiny
from headrouter.bench import output_cache
from headrouter.engine.cache import PrunedCache, pruned_state
from headrouter.testing.reference import keep_mask_from_pruner, masked_reference

STEPS = 6


def forward(model, inputs, cache=None, deltas=None):
    """One forward with a cache. Continuing one, it passes the positions itself, as ``generate`` does: given only the
    attention mask, transformers 5.24's Qwen2.5-Omni computes rotary positions for every column of the mask instead
    of the new tokens (a hand-written loop fails even unwrapped). ``deltas``: the conversation's rope deltas
    (default: those of the model's latest prefill)."""
    kwargs = {"use_cache": True}
    if cache is not None:
        kwargs[cache_kwarg(model)] = cache
        if cache.get_seq_length() > 0:
            deltas = model.model.rope_deltas if deltas is None else deltas
            text = (inputs["attention_mask"].long().cumsum(-1) - 1).clamp(min=0)[:, -inputs["input_ids"].shape[1] :]
            kwargs["position_ids"] = text[None].expand(3, -1, -1) + deltas
    with torch.no_grad():
        return model(**inputs, **kwargs)


def decode(model, inputs, cache, first_logits, steps=STEPS):
    """A hand-written greedy loop on ``cache``: (tokens, last-position logits per step)."""
    mask = inputs["attention_mask"]
    token = first_logits[:, -1].argmax(-1, keepdim=True)
    tokens, scores = [token], [first_logits[:, -1]]
    for _ in range(steps):
        mask = torch.cat([mask, torch.ones_like(token)], 1)
        out = forward(model, {"input_ids": token, "attention_mask": mask}, cache)
        token = out.logits[:, -1].argmax(-1, keepdim=True)
        tokens.append(token)
        scores.append(out.logits[:, -1])
    return torch.cat(tokens, 1), torch.stack(scores, 1)


def test_cache_made_inside_a_pruned_forward_continues_as_the_masked_reference(model, batch):
    headrouter.wrap(model, keep_ratio=0.4)
    out = forward(model, batch)
    cache = output_cache(out)
    assert isinstance(cache, PrunedCache) and pruned_state(cache).prune_layer == 2
    tokens, scores = decode(model, batch, cache, out.logits)
    keep = keep_mask_from_pruner(model.headrouter, batch["input_ids"].shape[1])
    headrouter.unwrap(model)

    with masked_reference(model, keep, 2):
        ref = forward(model, batch)
        ref_tokens, ref_scores = decode(model, batch, output_cache(ref), ref.logits)
    assert torch.equal(tokens, ref_tokens)
    assert torch.allclose(scores, ref_scores, atol=1e-5)


def test_generate_continues_a_cache_from_a_pruned_forward(model, batch):
    """transformers' pattern: prefill once with forward, then generate from that cache."""
    headrouter.wrap(model, keep_ratio=0.4)
    cache = output_cache(forward(model, batch))
    prompt = batch["input_ids"].shape[1]
    suffix = torch.full((batch["input_ids"].shape[0], 1), 7)  # one more prompt token, so generate has work to do
    inputs = {
        "input_ids": torch.cat([batch["input_ids"], suffix], 1),
        "attention_mask": torch.cat([batch["attention_mask"], torch.ones_like(suffix)], 1),
    }
    with torch.no_grad():
        tokens = model.generate(**inputs, **{cache_kwarg(model): cache}, max_new_tokens=STEPS, do_sample=False)
    keep = keep_mask_from_pruner(model.headrouter, prompt)
    headrouter.unwrap(model)

    with masked_reference(model, keep, 2):
        ref_cache = output_cache(forward(model, batch))
        with torch.no_grad():
            ref = model.generate(**inputs, **{cache_kwarg(model): ref_cache}, max_new_tokens=STEPS, do_sample=False)
    assert torch.equal(tokens, ref)


def test_deep_copies_of_a_pruned_cache_continue_independently(model):
    """The prefix-caching pattern: prefill a shared prefix once, deep-copy the cache, continue each copy."""
    full = tiny.encode(prompts_mixed()[:1])
    cut = full["input_ids"].shape[1] - 4  # the prefix ends inside the text after the audio
    prefix = {k: (v[:, :cut] if k in ("input_ids", "attention_mask") else v) for k, v in full.items()}
    follow_ups = [torch.tensor([[11, 12, 13, 14]]), torch.tensor([[21, 22]])]

    def run():
        prompt_cache = output_cache(forward(model, prefix))
        results = []
        for ids in follow_ups:
            cache = copy.deepcopy(prompt_cache)
            inputs = {
                "input_ids": torch.cat([prefix["input_ids"], ids], 1),
                "attention_mask": torch.ones(1, cut + ids.shape[1], dtype=torch.long),
            }
            with torch.no_grad():
                results.append(
                    model.generate(**inputs, **{cache_kwarg(model): cache}, max_new_tokens=STEPS, do_sample=False)
                )
        return results

    headrouter.wrap(model, keep_ratio=0.3, method="random", seed=2)
    pruned = run()
    keep = keep_mask_from_pruner(model.headrouter, cut)
    headrouter.unwrap(model)
    with masked_reference(model, keep, 2):
        reference = run()
    for got, want in zip(pruned, reference, strict=True):
        assert torch.equal(got, want)


def test_interleaved_conversations_each_continue_their_own_cache(model):
    """Two conversations prefilled one after the other, then decoded in turns, on one wrapped model."""
    prompts = prompts_mixed()
    a, b = tiny.encode(prompts[:1]), tiny.encode(prompts[1:2])
    headrouter.wrap(model, keep_ratio=0.3, method="frame")
    out_a = forward(model, a)
    keep_a, deltas_a = keep_mask_from_pruner(model.headrouter, a["input_ids"].shape[1]), model.model.rope_deltas
    out_b = forward(model, b)
    keep_b, deltas_b = keep_mask_from_pruner(model.headrouter, b["input_ids"].shape[1]), model.model.rope_deltas
    cache_a, cache_b = output_cache(out_a), output_cache(out_b)
    mask_a, mask_b = a["attention_mask"], b["attention_mask"]
    got = {"a": [], "b": []}
    for step in range(3):
        for name, cache, deltas in (("a", cache_a, deltas_a), ("b", cache_b, deltas_b)):
            if name == "a":
                mask_a = torch.cat([mask_a, torch.ones(1, 1, dtype=torch.long)], 1)
                mask = mask_a
            else:
                mask_b = torch.cat([mask_b, torch.ones(1, 1, dtype=torch.long)], 1)
                mask = mask_b
            out = forward(model, {"input_ids": torch.tensor([[30 + step]]), "attention_mask": mask}, cache, deltas)
            got[name].append(out.logits[:, -1])
    headrouter.unwrap(model)

    # each conversation alone under its own masked reference
    for name, inputs, keep in (("a", a, keep_a), ("b", b, keep_b)):
        with masked_reference(model, keep, 2):
            cache = output_cache(forward(model, inputs))
        mask = inputs["attention_mask"]
        with masked_reference(model, keep, 2):
            for step in range(3):
                mask = torch.cat([mask, torch.ones(1, 1, dtype=torch.long)], 1)
                out = forward(model, {"input_ids": torch.tensor([[30 + step]]), "attention_mask": mask}, cache)
                assert torch.allclose(got[name][step], out.logits[:, -1], atol=1e-5), (name, step)


def test_a_pruned_cache_on_an_unwrapped_model_is_refused_before_any_layer_is_written(model, single):
    headrouter.wrap(model, keep_ratio=0.3)
    cache = output_cache(forward(model, single))
    headrouter.unwrap(model)
    lengths = [cache.get_seq_length(i) for i in range(len(cache.layers))]
    mask = torch.cat([single["attention_mask"], torch.ones(1, 1, dtype=torch.long)], 1)
    with pytest.raises(RuntimeError, match=r"pruned by headrouter.*prune_layer=2"):
        forward(model, {"input_ids": torch.tensor([[5]]), "attention_mask": mask}, cache)
    assert [cache.get_seq_length(i) for i in range(len(cache.layers))] == lengths

    headrouter.wrap(model, keep_ratio=0.3, prune_layer=3)
    with pytest.raises(RuntimeError, match="pruned at layer 2"):
        forward(model, {"input_ids": torch.tensor([[5]]), "attention_mask": mask}, cache)
    headrouter.wrap(model, keep_ratio=0.9, prune_layer=2)  # other settings, same layer: it continues
    forward(model, {"input_ids": torch.tensor([[5]]), "attention_mask": mask}, cache)
    assert cache.get_seq_length(0) == lengths[0] + 1 and cache.get_seq_length(2) == lengths[2] + 1


def test_a_later_turn_with_audio_is_kept_whole_and_recorded(model, caplog):
    turn1 = tiny.encode([tiny.audio_prompt([tiny.tone(2.0, seed=8)], [4, 5], seed=8)])
    turn2 = tiny.encode([tiny.audio_prompt([tiny.tone(1.0, seed=9)], [3, 4], seed=9)])
    past = turn1["input_ids"].shape[1]
    mask = torch.ones(1, past + turn2["input_ids"].shape[1], dtype=torch.long)
    second = {**turn2, "attention_mask": mask}

    headrouter.wrap(model, keep_ratio=0.3)
    cache = output_cache(forward(model, turn1))
    keep = keep_mask_from_pruner(model.headrouter, past)
    with caplog.at_level(logging.WARNING, logger="headrouter"):
        pruned = forward(model, second, cache).logits
    assert "later turn" in caplog.text
    audio = (turn2["input_ids"][0] == tiny.AUDIO_TOKEN).nonzero().squeeze(-1)
    (record,) = model.headrouter.records
    assert not record.pruned
    assert record.audio_tokens_before == record.audio_tokens_after == 25
    assert record.kept_positions == (audio + past).tolist()
    headrouter.unwrap(model)

    with masked_reference(model, keep, 2):
        ref_cache = output_cache(forward(model, turn1))
        reference = forward(model, second, ref_cache).logits
    assert torch.allclose(pruned, reference, atol=1e-5)
