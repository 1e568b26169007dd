"""The engine prunes before sliding-window layers exactly: windows count original positions, not the kept slots.

A tiny Qwen2.5-Omni thinker whose layers 1 and 2 attend within a window of 16 positions, far shorter than its prompts
(75 and 50 audio tokens), so that every proof below crosses the window: pruned == masked, cached == recomputed, batch
== one by one, captured rows == eager attention, with the sliding layer before K and after it.
"""

from __future__ import annotations

import functools

import pytest
import torch
from conftest import prompts_mixed
from transformers import Qwen2_5OmniThinkerForConditionalGeneration, Qwen2Config

import headrouter
from headrouter.adapters import adapter_for
from headrouter.adapters.qwen2_5_omni import tiny
from headrouter.bench import output_cache
from headrouter.engine.surgery import pruned_attention_mask
from headrouter.testing import assert_pruned_equals_masked, proofs

WINDOW = 16
LAYER_TYPES = ["full_attention", "sliding_attention", "sliding_attention", "full_attention"]
STEPS = 8
greedy = functools.partial(proofs.greedy, steps=STEPS)


def sliding_model(attn_implementation: str, layer_types=LAYER_TYPES, window: int | None = WINDOW):
    config = tiny.tiny_thinker_config()
    config.text_config.sliding_window = window
    config.text_config.layer_types = list(layer_types)
    torch.manual_seed(0)
    model = Qwen2_5OmniThinkerForConditionalGeneration._from_config(config, attn_implementation=attn_implementation)
    model.generation_config.pad_token_id = tiny.PAD_TOKEN
    model.generation_config.suppress_tokens = list(tiny.SPECIAL_TOKENS)
    return model.eval()


@pytest.fixture(scope="module")
def sliding_models():
    return {impl: sliding_model(impl) for impl in ("eager", "sdpa")}


@pytest.fixture(params=["eager", "sdpa"])
def model(request, sliding_models):
    m = sliding_models[request.param]
    yield m
    headrouter.unwrap(m)


@pytest.fixture(scope="module")
def batch():
    return tiny.encode(prompts_mixed(), padding_side="left")


@pytest.mark.parametrize("method,prune_layer", [("fastv", 1), ("frame", 2), ("dart", 2)])
def test_pruned_equals_masked_with_sliding_layers_after_k(model, batch, method, prune_layer):
    assert adapter_for(model).sliding_window(2) == WINDOW
    assert_pruned_equals_masked(model, batch, method, keep_ratio=0.3, prune_layer=prune_layer, steps=STEPS)


def test_cached_decoding_equals_recomputation(model, batch):
    proofs.assert_cached_equals_recomputed(model, batch, keep_ratio=0.4, prune_layer=2, steps=STEPS)


def test_batch_equals_one_by_one(model):
    prompts = prompts_mixed()
    headrouter.wrap(model, keep_ratio=0.5, prune_layer=2)
    tokens, scores = greedy(model, tiny.encode(prompts))
    for i, prompt in enumerate(prompts):
        alone_tokens, alone_scores = greedy(model, tiny.encode([prompt]))
        assert torch.equal(tokens[i], alone_tokens[0]), i
        assert torch.allclose(scores[i], alone_scores[0], atol=1e-4), i


def test_captured_rows_of_a_sliding_layer_equal_eager(sliding_models, batch):
    proofs.assert_captured_rows_equal_eager(sliding_models["eager"], batch, prune_layer=2)  # layer 1 slides


def test_the_pruned_sliding_cache_keeps_the_last_window_of_slots(sliding_models, batch):
    """transformers' sliding cache layer keeps the last ``window - 1`` slots of a pruned layer, as of any layer; the
    proofs above show those hold every key the next query sees."""
    model = sliding_models["sdpa"]
    single = tiny.encode(prompts_mixed()[:1])  # 90 tokens, 75 of them audio
    with headrouter.pruning(model, 0.5, prune_layer=2) as pruner:
        with torch.no_grad():
            out = model(**single, use_cache=True)
        slots = int(pruner.kept_valid.sum())
    cache = output_cache(out)
    assert slots > WINDOW
    assert [cache.layers[i].keys.shape[-2] for i in range(4)] == [90, WINDOW - 1, WINDOW - 1, slots]
    assert cache.get_seq_length(2) == slots  # the sliding layer counts every slot it has seen
    assert cache.get_mask_sizes(1, 2) == (WINDOW, slots - WINDOW + 1)  # the next step's keys: the last W slots


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
def test_windows_count_original_positions(implementation):
    """Slots at original positions 0, 3, 7, 8, 9 under a window of 4: a key is visible iff it is at most 3 positions
    before the query (never "at most 3 slots")."""
    config = Qwen2Config(hidden_size=8, num_attention_heads=2, use_sliding_window=True, sliding_window=4)
    config._attn_implementation = implementation
    positions = torch.tensor([[0, 3, 7, 8, 9]])
    mask = pruned_attention_mask(
        config, torch.zeros(1, 5, 8), torch.ones(1, 5, dtype=torch.bool), None, 0, 4, positions
    )
    visible = mask[0, 0] == 0 if implementation == "eager" else mask[0, 0]
    expected = torch.tensor(
        [
            [1, 0, 0, 0, 0],
            [1, 1, 0, 0, 0],
            [0, 0, 1, 0, 0],
            [0, 0, 1, 1, 0],
            [0, 0, 1, 1, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(visible, expected)


def test_flash_attention_before_sliding_layers_is_refused(sliding_models):
    config = Qwen2Config(hidden_size=8, num_attention_heads=2, use_sliding_window=True, sliding_window=4)
    config._attn_implementation = "flash_attention_2"
    positions = torch.arange(3)[None]
    with pytest.raises(ValueError, match="'flash_attention_2' attention.*original positions"):
        pruned_attention_mask(config, torch.zeros(1, 3, 8), torch.ones(1, 3, dtype=torch.bool), None, 0, 4, positions)
    model = sliding_models["sdpa"]
    text_config = adapter_for(model).text_config
    text_config._attn_implementation = "flash_attention_2"
    try:
        with pytest.raises(ValueError, match="'flash_attention_2' attention"):
            headrouter.wrap(model, keep_ratio=0.5, prune_layer=2)
        headrouter.wrap(model, keep_ratio=0.5, prune_layer=3)  # only full attention after layer 3
        headrouter.unwrap(model)
    finally:
        text_config._attn_implementation = "sdpa"
    assert not hasattr(model, "headrouter")


def test_layers_the_engine_cannot_prune_before_are_refused():
    chunked = sliding_model("sdpa", layer_types=["full_attention"] * 3 + ["chunked_attention"])
    with pytest.raises(ValueError, match=r"layers \[3\].*chunked_attention"):
        headrouter.wrap(chunked, keep_ratio=0.5, prune_layer=2)
    windowless = sliding_model("sdpa", window=None)
    with pytest.raises(ValueError, match=r"layers \[2\].*no sliding_window"):
        headrouter.wrap(windowless, keep_ratio=0.5, prune_layer=2)
    headrouter.wrap(windowless, keep_ratio=0.5, prune_layer=3)  # only full attention from layer 3 on
