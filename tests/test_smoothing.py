"""Spectral score smoothing (methods/smoothing.py): the low-pass by hand, the ``smooth`` switch of every method that
ranks its scores, and pruned == masked with smoothing on."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from conftest import prompts_mixed

import headrouter
from headrouter.adapters.qwen2_5_omni import tiny
from headrouter.engine.selection import top_k_audio
from headrouter.methods import (
    FastV,
    HeadRouterMethod,
    ScoringContext,
    ScoringMethod,
    SegmentTopK,
    get_method,
    method_from_config,
)
from headrouter.methods.smoothing import audio_runs, low_pass, smooth_scores
from headrouter.testing import assert_pruned_equals_masked

N = 32  # audio tokens of the hand-made rows: 17 frequency bins; cutoff 0.25 keeps ceil(4.25) = 5 of them (0..4)


def sine(frequency: int, n: int = N) -> torch.Tensor:
    """A sine of ``frequency`` whole periods over ``n`` tokens: exactly frequency bin ``frequency``."""
    return torch.sin(2 * math.pi * frequency * torch.arange(n, dtype=torch.float64) / n)


def test_a_constant_stays_constant_and_cutoff_one_is_the_identity():
    constant = torch.full((N,), 0.3, dtype=torch.float32)
    assert torch.allclose(low_pass(constant, 0.25), constant, atol=1e-7)
    assert torch.allclose(low_pass(constant, 0.01), constant, atol=1e-7)  # the mean (bin 0) is always kept
    noisy = torch.rand(N, generator=torch.Generator().manual_seed(0))
    assert low_pass(noisy, 1.0) is noisy
    assert torch.equal(low_pass(noisy[:1], 0.1), noisy[:1])  # one token: one bin, nothing to drop


def test_a_sine_above_the_cutoff_is_removed_and_one_below_is_kept():
    base = torch.full((N,), 2.0, dtype=torch.float64)
    assert torch.allclose(low_pass(base + sine(8), 0.25), base, atol=1e-12)  # bin 8 > 4: gone
    assert torch.allclose(low_pass(base + sine(5), 0.25), base, atol=1e-12)  # bin 5: the first one dropped
    assert torch.allclose(low_pass(base + sine(4), 0.25), base + sine(4), atol=1e-12)  # bin 4: kept
    mixed = base + sine(2) + 0.5 * sine(11)
    assert torch.allclose(low_pass(mixed, 0.25), base + sine(2), atol=1e-12)


def test_text_and_padding_are_untouched_and_each_clip_is_filtered_alone():
    # row 0: 2 padding, 3 text, clip A (32), 4 text, clip B (12), 2 text; row 1: text, one clip of 32, text
    length = 2 + 3 + N + 4 + 12 + 2
    scores = torch.rand(2, length, generator=torch.Generator().manual_seed(1))
    mask = torch.zeros(2, length, dtype=torch.bool)
    mask[0, 5 : 5 + N] = True
    mask[0, 9 + N : 21 + N] = True
    mask[1, 3 : 3 + N] = True
    assert audio_runs(mask[0]) == [(5, 5 + N), (9 + N, 21 + N)]
    out = smooth_scores(scores, mask, 0.25)
    assert torch.equal(out[~mask], scores[~mask])
    assert torch.allclose(out[0, 5 : 5 + N], low_pass(scores[0, 5 : 5 + N], 0.25))
    assert torch.allclose(out[0, 9 + N : 21 + N], low_pass(scores[0, 9 + N : 21 + N], 0.25))
    assert torch.allclose(out[1, 3 : 3 + N], low_pass(scores[1, 3 : 3 + N], 0.25))
    assert not torch.allclose(out[mask], scores[mask])
    assert smooth_scores(scores, mask, None) is scores


@dataclasses.dataclass(repr=False)
class Given(ScoringMethod):
    """Scores given by hand (not registered)."""

    name = "given-scores"
    scores: torch.Tensor | None = None

    def score(self, ctx: ScoringContext) -> torch.Tensor:
        return self.scores


def test_selection_ranks_the_smoothed_scores():
    # a spike at token 3 of a slow bump centred at token 20: raw top-4 takes the spike, smoothed the bump
    scores = (0.4 * torch.exp(-((torch.arange(N) - 20.0) ** 2) / 18)).unsqueeze(0)
    scores[0, 3] = 1.0
    mask = torch.ones(1, N, dtype=torch.bool)
    ctx = ScoringContext(audio_mask=mask, attention_mask=mask, hidden_states=torch.zeros(1, N, 2), layer=1)
    counts = torch.tensor([4])
    assert Given(scores=scores).select(ctx, counts)[0, 3]
    smoothed = Given(scores=scores, smooth=0.25).select(ctx, counts)
    assert torch.equal(smoothed, top_k_audio(smooth_scores(scores, mask, 0.25), mask, counts))
    assert not smoothed[0, 3] and smoothed[0, 19:22].all()


@pytest.mark.parametrize("bad", [0, 0.0, -0.5, 1.5, float("nan"), True, "0.5"])
def test_bad_cutoffs_are_refused_naming_smooth(bad):
    with pytest.raises(ValueError, match=r"smooth must be None \(off\) or the fraction .* in \(0, 1\]"):
        get_method("fastv", smooth=bad)


def test_methods_that_do_not_rank_their_scores_refuse_smooth():
    for name in ("frame", "dart"):
        with pytest.raises(ValueError, match=f"smooth applies to methods that keep the top-k .* '{name}'"):
            get_method(name, smooth=0.25)
    with pytest.raises(ValueError, match=r"give it to its inner method, e.g. inner=fastv\[smooth=0.25\]"):
        SegmentTopK(smooth=0.25)


def test_smooth_is_a_setting_shown_only_when_on():
    assert FastV().config() == {"name": "fastv"} and repr(FastV()) == "FastV()"
    method = get_method("fastv", smooth=0.25)
    assert method.config() == {"name": "fastv", "smooth": 0.25} and repr(method) == "FastV(smooth=0.25)"
    assert method_from_config(method.config()) == method and method != FastV()
    routed = HeadRouterMethod(smooth=0.5, task="auto")
    assert dataclasses.replace(routed, temperature=0.2).smooth == 0.5  # with_table's replace keeps it
    segment = SegmentTopK(inner="headrouter[smooth=0.25]")
    assert segment.inner == HeadRouterMethod(smooth=0.25)
    assert segment.config()["inner"]["smooth"] == 0.25


@pytest.mark.parametrize(
    "method",
    [FastV(smooth=0.25), HeadRouterMethod(smooth=0.1), SegmentTopK(segments=3, inner=FastV(smooth=0.25))],
    ids=repr,
)
def test_pruned_equals_masked_with_smoothing_on(model, batch, method):
    assert_pruned_equals_masked(model, batch, method, keep_ratio=0.3, prune_layer=2, steps=4)


def test_smoothing_changes_which_tokens_are_kept(models):
    batch = tiny.encode(prompts_mixed(), padding_side="left")
    kept = {}
    for cutoff in (None, 0.1):
        with headrouter.pruning(models["sdpa"], 0.3, prune_layer=2, method=FastV(smooth=cutoff)) as router:
            with torch.no_grad():
                models["sdpa"](**batch)
            kept[cutoff] = [r.kept_positions for r in router.records]
    assert kept[None] != kept[0.1]
    assert [len(k) for k in kept[None]] == [len(k) for k in kept[0.1]]
