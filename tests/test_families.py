"""The engine's proofs on a tiny random model of every family added beside Qwen2.5-Omni (whose own proofs are
tests/test_engine.py, test_cache.py and test_api.py), eager and sdpa: one suite, parametrized by family."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import ModuleType

import pytest
import torch

import headrouter
from headrouter.adapters import (
    AudioFlamingo3Adapter,
    Gemma3nAdapter,
    ModelAdapter,
    MusicFlamingoAdapter,
    Phi4MultimodalAdapter,
    Qwen2AudioAdapter,
    Qwen3OmniMoeAdapter,
    VoxtralAdapter,
    adapter_for,
)
from headrouter.adapters.audio_flamingo3 import tiny as audio_flamingo3
from headrouter.adapters.gemma3n import tiny as gemma3n
from headrouter.adapters.musicflamingo import tiny as musicflamingo
from headrouter.adapters.phi4_multimodal import tiny as phi4_multimodal
from headrouter.adapters.qwen2_audio import tiny as qwen2_audio
from headrouter.adapters.qwen3_omni_moe import tiny as qwen3_omni_moe
from headrouter.adapters.voxtral import tiny as voxtral
from headrouter.testing import assert_pruned_equals_masked, proofs

STEPS = 8
greedy = functools.partial(proofs.greedy, steps=STEPS)
logits = proofs.forward_logits


@dataclass(frozen=True)
class Family:
    """A family's tiny model and two prompts of different audio lengths and layouts, with what to expect of them."""

    name: str
    tiny: ModuleType
    adapter: type[ModelAdapter]
    first_clip_seconds: float
    audio_tokens: list[int]
    """Audio tokens per prompt, as the decoder sees them."""

    def prompts(self):
        tiny = self.tiny
        return [
            tiny.audio_prompt([tiny.tone(self.first_clip_seconds, 440.0, seed=1)], text_lengths=[4, 9], seed=1),
            tiny.audio_prompt(
                [tiny.tone(1.2, 300.0, seed=2), tiny.tone(0.8, 900.0, seed=3)], text_lengths=[3, 5, 6], seed=2
            ),
        ]


FAMILIES = [
    # 3.0 s -> 75 audio tokens; 1.2 s + 0.8 s -> 30 + 20
    Family("qwen2_audio", qwen2_audio, Qwen2AudioAdapter, 3.0, [75, 50]),
    # 6.0 s -> 150 audio tokens in two windows of the tiny 5 s tower (125 + 25); 1.2 s + 0.8 s -> 30 + 20
    Family("audio_flamingo3", audio_flamingo3, AudioFlamingo3Adapter, 6.0, [150, 50]),
    # 13 audio tokens per whole second, ceil(r / 8) for r frames left: 3.0 s -> 39; 1.2 s + 0.8 s -> 16 + 10
    Family("qwen3_omni_moe", qwen3_omni_moe, Qwen3OmniMoeAdapter, 3.0, [39, 26]),
    # 50 audio tokens per tiny 4 s chunk, each clip padded to whole chunks: 9.0 s -> 3 chunks, 150; 1.2 s + 0.8 s
    # -> one chunk each, 50 + 50
    Family("voxtral", voxtral, VoxtralAdapter, 9.0, [150, 100]),
    # 12.5 audio tokens per second, ceil(frames / 8) of (samples - 400) // 160 + 1 frames: 3.0 s -> 298 frames, 38;
    # 1.2 s + 0.8 s -> 118 + 78 frames, 15 + 10
    Family("phi4_multimodal", phi4_multimodal, Phi4MultimodalAdapter, 3.0, [38, 25]),
    # as Audio Flamingo 3 (rotary time embeddings act on the tower's output, before the decoder): 6.0 s -> 150 in two
    # windows of the tiny 5 s tower; 1.2 s + 0.8 s -> 30 + 20
    Family("musicflamingo", musicflamingo, MusicFlamingoAdapter, 6.0, [150, 50]),
    # 188 audio tokens per clip whatever its length; 0.8 s, not longer than the second prompt's 1.2 s, so that batching
    # pads no clip whose last token reads past its end (Gemma 3n's tower is not batch-invariant there)
    Family("gemma3n", gemma3n, Gemma3nAdapter, 0.8, [188, 376]),
]


@pytest.fixture(scope="module", params=FAMILIES, ids=lambda f: f.name)
def family(request):
    return request.param


@pytest.fixture(scope="module")
def models(family):
    return {impl: family.tiny.tiny_model(attn_implementation=impl) for impl in ("eager", "sdpa")}


@pytest.fixture(params=["eager", "sdpa"])
def model(request, models):
    m = models[request.param]
    yield m
    headrouter.unwrap(m)


@pytest.fixture(scope="module")
def batch(family):
    return family.tiny.encode(family.prompts())


def test_adapter_and_placeholder_counts(family, models, batch):
    adapter = adapter_for(models["sdpa"])
    assert isinstance(adapter, family.adapter)
    assert adapter.audio_token_id == family.tiny.AUDIO_TOKEN
    assert adapter.num_layers == 4 and adapter.num_heads == 4
    assert adapter.audio_mask(batch["input_ids"]).sum(-1).tolist() == family.audio_tokens


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


def test_cached_decoding_equals_recomputation(model, batch):
    proofs.assert_cached_equals_recomputed(model, batch, keep_ratio=0.4, prune_layer=2, steps=STEPS)


def test_batch_equals_one_by_one(family, model, batch):
    headrouter.wrap(model, keep_ratio=0.5)
    tokens, scores = greedy(model, batch)
    for i, prompt in enumerate(family.prompts()):
        alone_tokens, alone_scores = greedy(model, family.tiny.encode([prompt]))
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
    proofs.assert_captured_rows_equal_eager(models["eager"], batch, prune_layer=3)
