"""HeadRouter scoring with the heads of several layers below K (``layers=n``): by hand, end to end, and refused."""

from __future__ import annotations

import math

import pytest
import torch
from test_headrouter import two_task_table

import headrouter
from headrouter import get_method
from headrouter.adapters import adapter_for
from headrouter.adapters.base import ModelAdapter
from headrouter.methods import ScoringContext
from headrouter.methods.headrouter import stats
from headrouter.methods.headrouter.table import HeadTable


def hand_table() -> HeadTable:
    """Two layers of two heads, two position bins: layer 0 trusts head 0 alone, layer 1 heads 0 and 1 as 1 : 3."""
    return HeadTable(
        weights={"acoustic": torch.tensor([[1.0, 0.0], [0.25, 0.75]])},
        profiles={"acoustic": torch.zeros(2, 4)},
        mass={"acoustic": torch.zeros(2, 2)},
        selectivity={"acoustic": torch.zeros(2, 2)},
        prior=torch.tensor([[[1.0, 1.0], [1.0, 1.0]], [[0.5, 0.5], [1.0, 2.0]]]),  # (layers, heads, bins)
        feature_mean=torch.zeros(2, 4),
        feature_std=torch.ones(2, 4),
        meta={"task_types": ["acoustic"]},
    )


def hand_context(layer_attention: dict[int, torch.Tensor]) -> ScoringContext:
    """Four audio tokens then the query; each attention is the query's row per head, ``(H, L)``."""
    rows = {layer: rows[None, :, None] for layer, rows in layer_attention.items()}  # (B, H, Q, L)
    return ScoringContext(
        audio_mask=torch.tensor([[True, True, True, True, False]]), attention_mask=torch.ones(1, 5, dtype=torch.bool),
        hidden_states=torch.zeros(1, 5, 4), layer=2, query_index=torch.tensor([[4]]),
        query_mask=torch.ones(1, 1, dtype=torch.bool), attention=rows[1], layer_attention=rows if len(rows) > 1 else {},
        details=[{}],
    )  # fmt: skip


LAYER_0 = torch.tensor([[0.1, 0.2, 0.3, 0.4, 0.0], [0.4, 0.3, 0.2, 0.1, 0.0]])
LAYER_1 = torch.tensor([[0.25, 0.25, 0.25, 0.25, 0.0], [0.1, 0.1, 0.4, 0.4, 0.0]])


def test_two_layers_score_the_mean_of_each_layers_weighted_debiased_score():
    method = get_method("headrouter", table=hand_table(), task="acoustic", layers=2)
    scores = method.score(hand_context({0: LAYER_0, 1: LAYER_1}))[0, :4]
    # bins of the four audio tokens: 0, 0, 1, 1. Layer 0: head 0 alone, prior 1 -> 0.1 0.2 0.3 0.4.
    # Layer 1: head 0 / 0.5 = 0.5 everywhere; head 1 / (1, 1, 2, 2) = 0.1 0.1 0.2 0.2; 0.25 x head 0 + 0.75 x head 1
    # = 0.2 0.2 0.275 0.275. Mean of the two layers:
    assert torch.allclose(scores, torch.tensor([0.15, 0.2, 0.2875, 0.3375]))
    one = get_method("headrouter", table=hand_table(), task="acoustic").score(hand_context({1: LAYER_1}))
    assert torch.allclose(one[0, :4], torch.tensor([0.2, 0.2, 0.275, 0.275]))


def eager_choice(model, inputs, table: HeadTable, layers: range, keep: list[int]) -> list[list[int]]:
    """The audio tokens a ``layers``-layer HeadRouter (task 'semantic', debiased) keeps, from the model's own eager
    attention (``output_attentions=True``): per row, the ``keep[b]`` best by the mean over layers of the weighted,
    debiased attention of the last real token."""
    module = adapter_for(model).forward_module
    with torch.no_grad():
        attentions = module(**inputs, output_attentions=True).attentions
    audio = adapter_for(model).audio_mask(inputs["input_ids"]) & inputs["attention_mask"].bool()
    last = inputs["attention_mask"].cumsum(-1).argmax(-1)
    bins = stats.relative_bins(audio, table.bins)
    chosen = []
    for b in range(audio.shape[0]):
        score = torch.zeros(audio.shape[1])
        for layer in layers:
            rows = attentions[layer][b, :, last[b]] / table.prior[layer][:, bins[b]]  # (H, L)
            score += (table.weights["semantic"][layer][:, None] * rows).sum(0) / len(layers)
        positions = audio[b].nonzero().squeeze(-1)
        best = positions[score[positions].topk(keep[b]).indices]
        chosen.append(sorted(best.tolist()))
    return chosen


def test_the_engine_scores_with_every_asked_layer_as_eager_attention_does(models, batch):
    model, table = models["eager"], two_task_table()
    choices = {}
    for layers in (1, 3):
        with (
            headrouter.pruning(
                model, keep_ratio=0.3, prune_layer=3, method="headrouter", table=table, task="semantic", layers=layers
            ) as router,
            torch.no_grad(),
        ):
            model(**batch)
            records = router.records
        assert [r.audio_tokens_after for r in records] == [math.ceil(0.3 * r.audio_tokens_before) for r in records]
        choices[layers] = [sorted(r.kept_positions) for r in records]
        expected = eager_choice(model, batch, table, range(3 - layers, 3), [r.audio_tokens_after for r in records])
        assert choices[layers] == expected, layers
    assert choices[1] != choices[3]


@pytest.mark.parametrize("layers", [0, -1, True, 1.5, "2"])
def test_layers_must_be_a_positive_integer(layers):
    with pytest.raises(ValueError, match=r"layers must be an integer >= 1 \(how many layers below K score\)"):
        get_method("headrouter", layers=layers)


def test_more_layers_than_lie_below_k_are_refused_at_wrap(models):
    with pytest.raises(ValueError, match=r"layers=4 asks for more layers than lie below prune_layer=3: at most 3"):
        headrouter.wrap(models["sdpa"], keep_ratio=0.5, prune_layer=3, method="headrouter", layers=4)
    assert getattr(models["sdpa"], "headrouter", None) is None


def test_segment_captures_the_layers_its_inner_headrouter_scores_with():
    assert get_method("segment", inner=get_method("headrouter", layers=2)).capture_layers == 2
    assert get_method("segment").capture_layers == 1


def test_any_method_asking_for_more_layers_than_lie_below_k_is_refused(models):
    class Deep(headrouter.ScoringMethod):
        name = "deep-test"
        queries = "last"
        capture_layers = 4

        def score(self, ctx):
            return torch.zeros(ctx.audio_mask.shape)

    with pytest.raises(ValueError, match=r"method 'deep-test' asks for the attention of 4 layers below prune_layer=3"):
        headrouter.wrap(models["sdpa"], keep_ratio=0.5, prune_layer=3, method=Deep())


def test_a_captured_layer_that_reuses_another_layers_keys_is_refused_at_wrap(models, monkeypatch):
    # a family whose layer 1 reused layer 0's keys (as Gemma 3n's last layers do): its rows cannot be recomputed
    monkeypatch.setattr(ModelAdapter, "kv_sharing_groups", lambda self: [[0, 1]])
    with pytest.raises(ValueError, match=r"layers \[1\] reuse another layer's keys"):
        headrouter.wrap(models["sdpa"], keep_ratio=0.5, prune_layer=3, method="headrouter", layers=2)
    assert getattr(models["sdpa"], "headrouter", None) is None
    headrouter.unwrap(headrouter.wrap(models["sdpa"], keep_ratio=0.5, prune_layer=3, method="headrouter", layers=1))
