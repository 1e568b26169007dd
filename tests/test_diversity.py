"""Diverse selection (methods/diversity.py): picks worked by hand, agreement with a plain reference and with top-k at
a vanishing weight, the ``diversity`` switch of every method that ranks its scores, and pruned == masked with it on."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import headrouter
from headrouter.engine.selection import top_k_audio
from headrouter.methods import FastV, HeadRouterMethod, SegmentTopK, get_method, method_from_config
from headrouter.methods.diversity import _greedy, _round, _unit_rows, check_diversity, diverse_top_k
from headrouter.testing import assert_pruned_equals_masked

# four audio tokens after one text token: a0 and a1 nearly the same direction, a2 orthogonal to both, a3 between
HIDDEN = torch.tensor([[[5.0, 5.0], [1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [0.7, 0.7]]])
SCORES = torch.tensor([[9.0, 0.9, 0.8, 0.1, 0.5]])  # ranks: a0 0, a1 1, a3 2, a2 3 -> relevance 1, 2/3, 1/3, 0
MASK = torch.tensor([[False, True, True, True, True]])


def kept(weight: float, k: int) -> list[int]:
    keep = diverse_top_k(SCORES, MASK, torch.tensor([k]), HIDDEN, weight)
    assert keep[0, 0]  # the text token always stays
    return keep[0].nonzero().squeeze(-1).tolist()[1:]


def test_picks_worked_by_hand():
    # weight 0.5, second pick: a1 0.5 * 2/3 - 0.5 * ~1 = -0.17, a3 0.5 * 1/3 - 0.5 * 0.707 = -0.19, a2 0 - 0 = 0
    assert kept(0.5, 2) == [1, 3]
    # third pick: a1 -0.17 against a3 (its likeness to a0 and to a2 both 0.707) -0.19
    assert kept(0.5, 3) == [1, 2, 3]
    # weight 0.2, second pick: a1 0.8 * 2/3 - 0.2 * ~1 = 0.33, a3 0.8 / 3 - 0.2 * 0.707 = 0.13, a2 0: plain top-k
    assert kept(0.2, 2) == [1, 2]
    assert kept(1.0, 1) == [1]  # the first pick is the best-scored token, whatever the weight


def test_at_weight_one_an_exact_copy_of_a_kept_token_comes_last():
    hidden = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.2]]])
    scores = torch.tensor([[4.0, 3.0, 2.0, 1.0]])
    mask = torch.ones(1, 4, dtype=torch.bool)
    keep = diverse_top_k(scores, mask, torch.tensor([3]), hidden, 1.0)
    assert keep[0].tolist() == [True, False, True, True]


def reference(scores: list[float], states: list[list[float]], k: int, weight: float) -> set[int]:
    """The greedy rule written out over Python lists: the indices picked."""
    n = len(scores)
    order = sorted(range(n), key=lambda i: (-scores[i], i))
    relevance = {i: 1.0 - rank / max(n - 1, 1) for rank, i in enumerate(order)}

    def cosine(a: int, b: int) -> float:
        dot = sum(x * y for x, y in zip(states[a], states[b], strict=True))
        norms = math.sqrt(sum(x * x for x in states[a])) * math.sqrt(sum(y * y for y in states[b]))
        return dot / max(norms, 1e-12)

    picked: list[int] = []
    for _ in range(k):

        def gain(i: int) -> float:
            redundancy = max((cosine(i, j) for j in picked), default=0.0)
            return (1 - weight) * relevance[i] - weight * redundancy

        candidates = [i for i in order if i not in picked]
        best = max(gain(i) for i in candidates)
        picked.append(next(i for i in candidates if gain(i) >= best - 1e-6))
    return set(picked)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 12),
    data=st.data(),
    weight=st.sampled_from([0.1, 0.5, 0.9, 1.0]),
    seed=st.integers(0, 2**16),
)
def test_agrees_with_the_rule_written_out(n, data, weight, seed):
    k = data.draw(st.integers(1, n))
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(1, n + 2, generator=generator)
    hidden = torch.randn(1, n + 2, 3, generator=generator)
    mask = torch.zeros(1, n + 2, dtype=torch.bool)
    mask[0, 1 : n + 1] = True
    keep = diverse_top_k(scores, mask, torch.tensor([k]), hidden, weight)
    chosen = set(keep[0, 1 : n + 1].nonzero().squeeze(-1).tolist())
    expected = reference(scores[0, 1 : n + 1].tolist(), hidden[0, 1 : n + 1].tolist(), k, weight)
    assert chosen == expected
    assert keep[0, 0] and keep[0, -1]


@pytest.mark.parametrize("weight", [0.5, 0.95, 1.0])
def test_rounds_of_any_size_pick_what_one_pick_per_round_picks(weight):
    # audio-like features: a slow drift along time, exact repeats of a few frames (ties at weight 1), and noise
    generator = torch.Generator().manual_seed(5)
    states = torch.cumsum(torch.randn(300, 16, generator=generator), 0) / 10 + torch.randn(300, 16, generator=generator)
    states[200:260] = states[40]
    states[100:120:2] = states[7]
    for k in (1, 2, 90, 230, 300):
        features = _unit_rows(states, torch.arange(300))
        step_by_step = _greedy(features, k, weight, block=1)
        assert int(step_by_step.sum()) == k and bool(step_by_step[0])
        for block in (2, 7, 64, 400):
            assert torch.equal(_greedy(features, k, weight, block=block), step_by_step), (k, block)


@pytest.mark.parametrize(("second", "picks"), [(5, [0]), (2, [0, 1])])
def test_a_round_stops_where_a_token_outside_it_could_come_first(second, picks):
    # weight 1: the first candidate (gain 0) passes the bound (-0.5, token 3); its likeness 0.5 with the second lowers
    # that one's gain to -0.5, level with the bound: the lower token index comes first, so token 2 is picked, token 5
    # waits for the next round (where token 3 may come first)
    likeness = np.array([[1.0, 0.5], [0.5, 1.0]], dtype=np.float32)
    gain = np.array([0.0, -0.1], dtype=np.float32)
    assert _round(np.array([1, second]), gain, np.zeros(2, np.float32), likeness, 1.0, (-0.5, 3), 5) == picks
    assert _round(np.array([1, second]), gain, np.zeros(2, np.float32), likeness, 1.0, (-0.5, 3), 1) == [0]


def test_one_pick_per_round_is_the_rule_written_out():
    generator = torch.Generator().manual_seed(6)
    states = torch.randn(30, 4, generator=generator)
    states[20:25] = states[3]
    for weight in (0.3, 0.95):
        picked = _greedy(_unit_rows(states, torch.arange(30)), 18, weight, block=1)
        order = list(range(30))  # states come best-scored first
        expected = reference([30.0 - i for i in order], states.tolist(), 18, weight)
        assert set(picked.nonzero().squeeze(-1).tolist()) == expected


def test_a_vanishing_weight_is_plain_top_k_row_by_row():
    generator = torch.Generator().manual_seed(3)
    scores = torch.randn(3, 40, generator=generator)
    hidden = torch.randn(3, 40, 8, generator=generator)
    mask = torch.zeros(3, 40, dtype=torch.bool)
    mask[0, 4:30] = True
    mask[1, 10:20] = True
    mask[1, 25:38] = True  # two clips, one set
    counts = torch.tensor([9, 5, 0])  # row 2 has no audio
    keep = diverse_top_k(scores, mask, counts, hidden, 1e-6)
    assert torch.equal(keep, top_k_audio(scores, mask, counts))
    assert not torch.equal(diverse_top_k(scores, mask, counts, hidden, 1.0), keep)


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, 1.5, True, "0.5", float("nan")])
def test_bad_weights_are_refused_naming_diversity(bad):
    with pytest.raises(ValueError, match=r"diversity must be None \(off\) or the weight .* in \(0, 1\]"):
        get_method("fastv", diversity=bad)
    with pytest.raises(ValueError, match="diversity must be"):
        check_diversity(bad)


def test_methods_that_do_not_rank_their_scores_refuse_diversity():
    for name in ("frame", "dart", "segment"):
        with pytest.raises(ValueError, match=f"diversity applies to methods that keep the top-k .* '{name}'"):
            get_method(name, diversity=0.5)
    with pytest.raises(ValueError, match="inner must not set diversity"):
        SegmentTopK(inner="headrouter[diversity=0.5]")


def test_diversity_is_a_setting_shown_only_when_on():
    method = get_method("headrouter[diversity=0.5,smooth=0.25]")
    assert method == HeadRouterMethod(diversity=0.5, smooth=0.25) and method != HeadRouterMethod(smooth=0.25)
    assert method.settings()["diversity"] == 0.5 and "diversity" not in HeadRouterMethod().settings()
    assert method_from_config(method.config()) == method
    assert repr(FastV(diversity=1.0)) == "FastV(diversity=1.0)"


@pytest.mark.parametrize("method", [FastV(diversity=1.0), HeadRouterMethod(diversity=0.5, smooth=0.25)], ids=repr)
def test_pruned_equals_masked_with_diversity_on(model, batch, method):
    assert_pruned_equals_masked(model, batch, method, keep_ratio=0.3, prune_layer=2, steps=4)


def test_wrap_takes_diversity_and_its_config_round_trips(models):
    model = headrouter.wrap(models["sdpa"], keep_ratio=0.3, method="fastv", diversity=0.5)
    try:
        config = model.headrouter.config
        assert config.to_dict()["method_kwargs"] == {"diversity": 0.5}
        assert headrouter.PruningConfig.from_dict(config.to_dict()) == config
        assert get_method(config.method, **config.method_kwargs) == FastV(diversity=0.5)
    finally:
        headrouter.unwrap(model)


def test_features_are_the_gathered_rows_at_unit_norm_in_float32():
    generator = torch.Generator().manual_seed(7)
    states = torch.randn(1200, 6, generator=generator).to(torch.bfloat16)
    states[5] = 0.0  # a zero row stays zero (its norm is clamped, as F.normalize does)
    rows = torch.randperm(1200, generator=generator)[:1100]  # more rows than one gather chunk
    features = _unit_rows(states, rows)
    assert features.dtype == torch.float32
    assert torch.equal(features, torch.nn.functional.normalize(states[rows].float(), dim=-1))


def test_keeping_every_token_needs_no_choice():
    scores = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    mask = torch.tensor([[False, True, True, True]])
    keep = diverse_top_k(scores, mask, torch.tensor([3]), torch.randn(1, 4, 2), 0.95)
    assert keep.all()
