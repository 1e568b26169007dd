"""The engine is exact: pruning equals masking, caching equals recomputing, batching equals one by one."""

from __future__ import annotations

import functools
import math

import pytest
import torch
from conftest import prompts_mixed

import headrouter
from headrouter import available_methods
from headrouter.adapters.qwen2_5_omni import tiny
from headrouter.bench import output_cache
from headrouter.testing import assert_pruned_equals_masked, keep_mask_from_pruner, masked_reference, proofs

STEPS = 8


greedy = functools.partial(proofs.greedy, steps=STEPS)
logits = proofs.forward_logits


def test_keep_ratio_one_equals_unwrapped(model, batch):
    ref_logits = logits(model, batch)
    ref_tokens, ref_scores = greedy(model, batch)
    headrouter.wrap(model, keep_ratio=1.0)
    assert torch.allclose(logits(model, batch), ref_logits, atol=1e-5)
    tokens, scores = greedy(model, batch)
    assert torch.equal(tokens, ref_tokens)
    assert torch.allclose(scores, ref_scores, atol=1e-5)
    assert [r.audio_tokens_after for r in model.headrouter.records] == [
        r.audio_tokens_before for r in model.headrouter.records
    ]


@pytest.mark.parametrize("method", available_methods())
@pytest.mark.parametrize("keep_ratio,prune_layer", [(0.3, 2), (0.5, 1), (0.7, 3)])
def test_pruned_equals_masked_reference(model, batch, method, keep_ratio, prune_layer):
    """Every registered method, through the proof users run on their own (headrouter.testing)."""
    assert_pruned_equals_masked(model, batch, method, keep_ratio=keep_ratio, prune_layer=prune_layer, steps=STEPS)


def test_cached_decoding_equals_recomputation(model, batch):
    proofs.assert_cached_equals_recomputed(model, batch, keep_ratio=0.4, steps=STEPS)


def test_batch_equals_one_by_one(model):
    prompts = prompts_mixed()
    batch = tiny.encode(prompts, padding_side="left")
    headrouter.wrap(model, keep_ratio=0.5)
    tokens, scores = greedy(model, batch)
    batch_records = model.headrouter.records
    width = batch["input_ids"].shape[1]
    for i, prompt in enumerate(prompts):
        alone = tiny.encode([prompt])
        alone_tokens, alone_scores = greedy(model, alone)
        assert torch.equal(tokens[i], alone_tokens[0]), i
        assert torch.allclose(scores[i], alone_scores[0], atol=1e-4), i
        shift = width - alone["input_ids"].shape[1]
        record = model.headrouter.records[0]
        assert [p + shift for p in record.kept_positions] == batch_records[i].kept_positions


def test_right_padded_forward_equals_one_by_one(model):
    prompts = prompts_mixed()
    batch = tiny.encode(prompts, padding_side="right")
    headrouter.wrap(model, keep_ratio=0.5)
    out = logits(model, batch)
    index, valid = model.headrouter.kept_index, model.headrouter.kept_valid
    for i, prompt in enumerate(prompts):
        alone = logits(model, tiny.encode([prompt]))
        n = alone.shape[1]
        real = valid[i] & batch["attention_mask"][i].bool()[index[i]]
        assert int(real.sum()) == n
        assert torch.allclose(out[i][real], alone[0], atol=1e-4), i


def test_no_audio_batch_is_untouched(model):
    inputs = tiny.encode([tiny.audio_prompt([], text_lengths=[9], seed=5)])
    ref = logits(model, inputs)
    headrouter.wrap(model, keep_ratio=0.3)
    assert torch.equal(logits(model, inputs), ref)
    assert model.headrouter.records[0].audio_tokens_before == 0
    assert model.headrouter.kept_index is None


def test_kv_cache_holds_only_kept_tokens(model):
    batch = tiny.encode(prompts_mixed()[:2])
    headrouter.wrap(model, keep_ratio=0.3, prune_layer=2)
    with torch.no_grad():
        out = model(**batch, use_cache=True)
    cache = output_cache(out)
    width = model.headrouter.kept_index.shape[1]
    seq = batch["input_ids"].shape[1]
    assert [cache.get_seq_length(i) for i in range(len(cache.layers))] == [seq, seq, width, width]
    assert width < seq


def test_captured_rows_equal_eager_output_attentions(models, batch):
    proofs.assert_captured_rows_equal_eager(models["eager"], batch, prune_layer=3)


def test_full_model_class(batch):
    model = tiny.tiny_model(full=True)
    kwargs = dict(generation_mode="text", thinker_max_new_tokens=STEPS, thinker_do_sample=False)
    with torch.no_grad():
        ref = model.generate(**batch, **kwargs)
        headrouter.wrap(model, keep_ratio=1.0)
        assert torch.equal(model.generate(**batch, **kwargs), ref)
        headrouter.wrap(model, keep_ratio=0.3)
        pruned = model.generate(**batch, **kwargs)
    records = model.headrouter.records
    # 3.0 s -> 75 audio tokens -> ceil(22.5) = 23; 1.2 s + 0.8 s -> 30 + 20 -> 15; no audio -> 0
    assert [r.audio_tokens_before for r in records] == [75, 50, 0]
    assert [r.audio_tokens_after for r in records] == [23, 15, 0]
    assert pruned.shape == ref.shape


def ending_in_audio(prompts):
    """The prompts' inputs without their final token, so that each row's last real token is an audio token."""
    inputs = tiny.encode(prompts)
    return {**inputs, "input_ids": inputs["input_ids"][:, :-1], "attention_mask": inputs["attention_mask"][:, :-1]}


@pytest.mark.parametrize("method", ["fastv", "random", "frame", "dart", "segment", "headrouter"])
def test_a_last_audio_token_is_never_dropped(model, method):
    prompts = [
        tiny.audio_prompt([tiny.tone(2.0, seed=3)], [4, 0], seed=3),
        tiny.audio_prompt([tiny.tone(1.2, seed=4), tiny.tone(0.8, seed=5)], [3, 5, 0], seed=4),
    ]
    inputs = ending_in_audio(prompts)
    assert (inputs["input_ids"][:, -1] == tiny.AUDIO_TOKEN).all()
    headrouter.wrap(model, keep_ratio=0.1, method=method)
    pruned = logits(model, inputs)
    router = model.headrouter
    last = inputs["input_ids"].shape[1] - 1
    assert (router.kept_index[:, -1] == last).all()
    for record, row in zip(router.records, inputs["input_ids"] == tiny.AUDIO_TOKEN, strict=True):
        assert last in record.kept_positions
        assert record.audio_tokens_after == math.ceil(0.1 * int(row.sum()))  # the pinned token counts in the budget
    keep = keep_mask_from_pruner(router, inputs["input_ids"].shape[1])
    headrouter.unwrap(model)
    with masked_reference(model, keep, 2):
        full = logits(model, inputs)
    assert torch.allclose(pruned[:, -1], full[:, -1], atol=1e-5)


def test_labels_while_pruning_are_refused_before_any_model_work(model, batch):
    headrouter.wrap(model, keep_ratio=0.5)
    with pytest.raises(ValueError, match="labels.*kept_index"):
        model(**batch, labels=batch["input_ids"])
    assert model.headrouter.records == []  # refused before the entry module ran
    text_only = tiny.encode([tiny.audio_prompt([], text_lengths=[9], seed=5)])
    loss = model(**text_only, labels=text_only["input_ids"]).loss  # nothing to prune: a loss as usual
    headrouter.unwrap(model)
    assert torch.equal(loss, model(**text_only, labels=text_only["input_ids"]).loss)


def test_speech_output_while_pruning_is_refused_before_the_thinker_runs(batch):
    model = tiny.tiny_model(full=True)
    headrouter.wrap(model, keep_ratio=0.5)
    with pytest.raises(RuntimeError, match="generation_mode='text'"):
        model.generate(**batch, thinker_max_new_tokens=2, talker_max_new_tokens=2)
    assert model.headrouter.records == []
    model.generate(**batch, generation_mode="text", thinker_max_new_tokens=2)  # text output is pruned as usual
    assert model.headrouter.records[0].audio_tokens_after == math.ceil(0.5 * 75)


def test_the_proof_fails_where_pruning_and_masking_differ(models, batch, monkeypatch):
    model = models["sdpa"]
    with pytest.raises(AssertionError, match="no audio tokens"):
        proofs.assert_pruned_equals_masked(model, tiny.encode([tiny.audio_prompt([], text_lengths=[9], seed=5)]))
    with pytest.raises(AssertionError, match="dropped no token"):
        proofs.assert_pruned_equals_masked(model, batch, keep_ratio=1.0)
    # a reference that masks other audio tokens than the pruned layers dropped must not pass
    shifted = proofs.keep_mask_from_pruner
    monkeypatch.setattr(proofs, "keep_mask_from_pruner", lambda pruner, n: shifted(pruner, n).roll(1, dims=1))
    with pytest.raises(AssertionError, match="masked reference"):
        proofs.assert_pruned_equals_masked(model, batch, "frame")
    assert not hasattr(model, "headrouter")
