"""DART and segment-wise top-k: each rule checked by hand on small synthetic contexts, plus edge cases.

The shared suite in test_methods.py runs both through the engine (exact counts, determinism, batch
independence); here select() is called directly on hand-built tensors.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import headrouter
from headrouter.adapters import adapter_for
from headrouter.adapters.qwen2_5_omni import tiny
from headrouter.methods import DART, RandomSelection, ScoringContext, SegmentTopK
from headrouter.methods.segment import segment_quotas


def kept_ranks(keep: torch.Tensor, audio: torch.Tensor) -> list[list[int]]:
    """Per row, the audio ranks (0 = first audio token) that ``keep`` keeps."""
    return [keep[row][audio[row]].nonzero().squeeze(-1).tolist() for row in range(keep.shape[0])]


def check_contract(keep: torch.Tensor, audio: torch.Tensor, counts: torch.Tensor) -> None:
    assert keep.dtype == torch.bool and keep.shape == audio.shape
    assert bool(keep[~audio].all())
    assert (keep & audio).sum(-1).tolist() == counts.tolist()


# ---------------------------------------------------------------------------------------------- segment


def test_segment_quotas_by_hand():
    # n = 10 audio tokens in 3 segments: rank r in segment floor(3r/10) -> sizes 4, 3, 3.
    # k = 4: exact shares 1.6, 1.2, 1.2 -> floors 1, 1, 1; the one left goes to the largest remainder (0.6).
    assert segment_quotas([4, 3, 3], 4) == [2, 1, 1]
    # four tied segments of 3, k = 6: shares 1.5 each -> floors 1; the 2 left go to tied ranks
    # floor((i + 1/2) * 4 / 2) = 1, 3, not to the first two segments.
    assert segment_quotas([3, 3, 3, 3], 6) == [1, 2, 1, 2]
    # k < segments: 10 tied shares of 0.6 -> 3 tokens at ranks floor((i + 1/2) * 10 / 3) = 1, 5, 8
    assert segment_quotas([2] * 10, 3) == [0, 1, 0, 0, 0, 1, 0, 0, 1, 0]
    # sizes 3, 2, 3, 2 (n = 10), k = 5: shares 1.5, 1, 1.5, 1 -> floors 1 each; the one left goes to one of
    # the two segments with remainder 0.5, tied rank floor(1/2 * 2 / 1) = 1: the third segment
    assert segment_quotas([3, 2, 3, 2], 5) == [1, 1, 2, 1]
    assert segment_quotas([4, 3, 3], 0) == [0, 0, 0]
    assert segment_quotas([4, 3, 3], 10) == [4, 3, 3]
    assert segment_quotas([1, 0, 1], 1) == [0, 0, 1]  # empty segments get nothing
    with pytest.raises(ValueError):
        segment_quotas([4, 3, 3], 11)


def test_segment_quotas_sum_and_stay_within_one_of_the_share():
    for n in range(1, 40):
        for segments in (1, 2, 3, 7, 10):
            sizes = torch.bincount(torch.arange(n) * segments // n, minlength=segments).tolist()
            for k in range(n + 1):
                quotas = segment_quotas(sizes, k)
                assert sum(quotas) == k
                assert all(q <= s and abs(q - k * s / n) < 1 for q, s in zip(quotas, sizes, strict=True))


def attention_context(audio: torch.Tensor, scores: torch.Tensor, padding: torch.Tensor | None = None) -> ScoringContext:
    """A context whose last-token attention, averaged over two heads, equals ``scores`` ``(B, L)``."""
    batch, seq = audio.shape
    padding = torch.ones_like(audio) if padding is None else padding
    last = torch.where(padding, torch.arange(seq), -1).amax(-1, keepdim=True)
    heads = torch.stack([1.5 * scores, 0.5 * scores], dim=1)[:, :, None, :]  # (B, 2, 1, L): mean is `scores`
    return ScoringContext(
        audio_mask=audio,
        attention_mask=padding,
        hidden_states=torch.zeros(batch, seq, 4),
        layer=2,
        query_index=last,
        query_mask=torch.ones(batch, 1, dtype=torch.bool),
        attention=heads,
        details=[{} for _ in range(batch)],
    )


def test_segment_keeps_each_segments_quota_by_fastv_score():
    # two clips of 5 audio tokens (positions 2-6 and 8-12) form one timeline of 10 ranks
    audio = torch.zeros(1, 16, dtype=torch.bool)
    audio[0, 2:7] = audio[0, 8:13] = True
    by_rank = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.1, 0.3, 0.2, 0.05, 0.02, 0.04])
    scores = torch.full((1, 16), 5.0)  # text scores are never read
    scores[audio] = by_rank
    counts = torch.tensor([4])
    keep = SegmentTopK(segments=3).select(attention_context(audio, scores), counts)
    check_contract(keep, audio, counts)
    # segments: ranks 0-3 (quota 2), 4-6 (quota 1), 7-9 (quota 1) -> ranks 0, 1 | 5 | 7.
    # A global top-4 (fastv) would keep ranks 0-3, all in the first segment.
    assert kept_ranks(keep, audio) == [[0, 1, 5, 7]]
    assert kept_ranks(headrouter.get_method("fastv").select(attention_context(audio, scores), counts), audio) == [
        [0, 1, 2, 3]
    ]


def test_segment_batches_edge_cases_and_ties():
    # row 0: one audio token; row 1: 6 audio tokens, all kept; row 2: left-padded, no audio;
    # row 3: 6 tokens of equal score, 3 segments of 2, k = 3 -> the first token of each segment
    audio = torch.zeros(4, 9, dtype=torch.bool)
    audio[0, 4] = True
    audio[1, 1:7] = True
    audio[3, 2:8] = True
    padding = torch.ones(4, 9, dtype=torch.bool)
    padding[2, :3] = False
    scores = torch.rand(4, 9, generator=torch.Generator().manual_seed(0))
    scores[3] = 0.5
    counts = torch.tensor([1, 6, 0, 3])
    keep = SegmentTopK(segments=3).select(attention_context(audio, scores, padding), counts)
    check_contract(keep, audio, counts)
    assert kept_ranks(keep, audio) == [[0], [0, 1, 2, 3, 4, 5], [], [0, 2, 4]]


def test_segment_with_one_segment_is_fastv_and_with_n_segments_keeps_the_best_of_strided_segments():
    audio = torch.zeros(2, 30, dtype=torch.bool)
    audio[0, 3:27] = True
    audio[1, 5:12] = True
    scores = torch.rand(2, 30, generator=torch.Generator().manual_seed(1))
    counts = torch.tensor([7, 3])
    ctx = attention_context(audio, scores)
    fastv = headrouter.get_method("fastv").select(ctx, counts)
    assert torch.equal(SegmentTopK(segments=1).select(ctx, counts), fastv)
    # as many segments as kept tokens: one token per segment, the best of it
    keep = SegmentTopK(segments=7).select(ctx, torch.tensor([7, 0]))
    ranks = torch.arange(24) * 7 // 24
    row = scores[0, audio[0]]
    assert kept_ranks(keep, audio)[0] == [int((ranks == s).nonzero()[row[ranks == s].argmax()]) for s in range(7)]


def test_segment_settings():
    assert SegmentTopK().config() == {"name": "segment", "segments": 10, "inner": {"name": "fastv"}}
    assert SegmentTopK().queries == "last"
    assert SegmentTopK(inner="random").queries is None
    assert SegmentTopK(inner="headrouter").queries == "after_audio"
    assert SegmentTopK.queries == "last"  # the class default is untouched
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="segments"):
            SegmentTopK(segments=bad)
    with pytest.raises(ValueError, match="only selects"):
        SegmentTopK(inner="frame")
    with pytest.raises(ValueError, match="another method"):
        SegmentTopK(inner="segment")
    with pytest.raises(ValueError, match="another method"):
        SegmentTopK(inner=SegmentTopK())
    with pytest.raises(ValueError, match="unknown method"):
        SegmentTopK(inner="nope")
    with pytest.raises(TypeError, match="inner must be a ScoringMethod, a registered method name or a method config"):
        SegmentTopK(inner=3)


def test_segment_takes_its_inner_method_as_an_object_a_name_or_a_config():
    seeded = RandomSelection(seed=5)
    by_object = SegmentTopK(segments=3, inner=seeded)
    assert by_object.inner is seeded
    assert by_object.config() == {"name": "segment", "segments": 3, "inner": {"name": "random", "seed": 5}}
    assert repr(by_object) == "SegmentTopK(segments=3, inner=RandomSelection(seed=5))"
    assert SegmentTopK(segments=3, inner={"name": "random", "seed": 5}) == by_object
    assert SegmentTopK(inner="random").inner == RandomSelection(seed=0)
    assert (SegmentTopK.uses_table, SegmentTopK.reports) == (False, ())
    with_headrouter = SegmentTopK(inner="headrouter")
    assert (with_headrouter.uses_table, with_headrouter.reports) == (True, ("task_mixture",))
    with pytest.raises(TypeError, match="method 'fastv' uses no head table"):
        SegmentTopK().with_table(None)


def test_segment_with_an_inner_object_scores_with_its_settings():
    audio = torch.ones(1, 20, dtype=torch.bool)
    ctx = ScoringContext(audio_mask=audio, attention_mask=audio, hidden_states=torch.zeros(1, 20, 2), layer=2)
    keep = SegmentTopK(segments=4, inner=RandomSelection(seed=5)).select(ctx, torch.tensor([8]))
    draws = torch.rand(20, generator=torch.Generator().manual_seed(5))  # the inner object's seed, not the default 0
    expected = sorted(5 * s + int(i) for s in range(4) for i in draws[5 * s : 5 * s + 5].topk(2).indices)
    assert kept_ranks(keep, audio) == [expected]


def test_segment_with_random_inner_is_seeded_per_segment():
    audio = torch.ones(1, 20, dtype=torch.bool)
    ctx = ScoringContext(audio_mask=audio, attention_mask=audio, hidden_states=torch.zeros(1, 20, 2), layer=2)
    keep = SegmentTopK(segments=4, inner="random").select(ctx, torch.tensor([8]))
    draws = torch.rand(20, generator=torch.Generator().manual_seed(0))
    expected = sorted(5 * s + int(i) for s in range(4) for i in draws[5 * s : 5 * s + 5].topk(2).indices)
    assert kept_ranks(keep, audio) == [expected]


def test_segment_with_one_segment_equals_fastv_on_the_tiny_model(models, batch):
    def kept(**kwargs):
        with headrouter.pruning(models["sdpa"], keep_ratio=0.3, **kwargs) as router, torch.no_grad():
            models["sdpa"](**batch)
            return [r.kept_positions for r in router.records]

    assert kept(method="segment", segments=1) == kept(method="fastv")
    assert kept(method="segment") != kept(method="fastv")


# ---------------------------------------------------------------------------------------------- dart

# audio tokens a0..a7 (hidden size 3) at positions 2-9, between two text tokens before (positions 0-1,
# huge norms: not candidates) and two after (t0 at 10, t1 at 11)
AUDIO = [
    [2.0, 0.0, 0.0],  # a0  L1 2 (the largest audio norm)
    [1.0, 0.1, 0.2],  # a1
    [-1.0, 0.0, 0.0],  # a2
    [0.0, 1.0, 0.0],  # a3
    [0.5, 0.5, 0.1],  # a4
    [-0.1, 0.0, 1.0],  # a5
    [-0.5, 0.5, 0.05],  # a6
    [0.3, 0.0, 0.3],  # a7
]
TEXT_AFTER = [[0.0, 0.0, 3.0], [0.0, 0.5, 0.0]]  # t0 (L1 3), t1


def dart_context(rows: int = 1) -> ScoringContext:
    hidden = torch.tensor([[5.0, 5.0, 5.0], [5.0, -5.0, 5.0], *AUDIO, *TEXT_AFTER]).expand(rows, -1, -1)
    audio = torch.zeros(rows, 12, dtype=torch.bool)
    audio[:, 2:10] = True
    return ScoringContext(
        audio_mask=audio,
        attention_mask=torch.ones(rows, 12, dtype=torch.bool),
        hidden_states=hidden.clone(),
        layer=2,
        details=[{} for _ in range(rows)],
    )


def test_dart_by_hand_with_hidden_state_norms():
    ctx = dart_context()
    keep = DART(audio_pivots=1, text_pivots=1, pivot_norm="hidden").select(ctx, torch.tensor([4]))
    check_contract(keep, ctx.audio_mask, torch.tensor([4]))
    # pivots: a0 (largest audio L1) and t0 (largest L1 after the audio). Budget 4 - 1 = 3 over 2 pivots:
    # a0 takes 2, t0 takes 1. Cosine to a0: a2 -1, a6 -0.705, a5 -0.0995, a3 0, ... -> a2, a6.
    # Cosine to t0 among a1, a3, a4, a5, a7: 0.195, 0, 0.140, 0.995, 0.707 -> a3.
    assert kept_ranks(keep, ctx.audio_mask) == [[0, 2, 3, 6]]
    assert ctx.details[0] == {"pivots": [2], "text_pivots": [10]}
    # without text pivots a0 takes all 3: a2, a6, a5
    keep = DART(audio_pivots=1, text_pivots=0, pivot_norm="hidden").select(dart_context(), torch.tensor([4]))
    assert kept_ranks(keep, ctx.audio_mask) == [[0, 2, 5, 6]]


class _Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.k_proj = nn.Linear(3, 2, bias=False)
        with torch.no_grad():
            self.k_proj.weight.copy_(torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]]))  # key = (h1, 2 h2)


class _Layer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.input_layernorm = nn.Identity()
        self.self_attn = _Attention()


class _Adapter:
    """What DART asks of an adapter: layer K's key projection (None where a layer has no such modules)."""

    def __init__(self) -> None:
        self.layers = nn.ModuleList([_Layer() for _ in range(3)])

    def key_projection(self, index):
        layer = self.layers[index]
        if not hasattr(layer, "input_layernorm"):
            return None
        return lambda states: layer.self_attn.k_proj(layer.input_layernorm(states))

    def attention(self, layer):
        return layer.self_attn


def test_dart_by_hand_with_key_norms():
    method = DART(audio_pivots=1, text_pivots=1)
    with pytest.raises(ValueError, match="project_keys"):
        method.select(dart_context(), torch.tensor([4]))
    ctx = dart_context()
    ctx.project_keys = _Adapter().key_projection(2)
    with torch.no_grad():
        keep = method.select(ctx, torch.tensor([4]))
    # key L1 = |h1| + 2|h2|: a0 0, a1 0.5, a2 0, a3 1, a4 0.7, a5 2, a6 0.6, a7 0.6; t0 6, t1 0.5
    # -> pivots a5 and t0. Cosine to a5: a0 -0.0995, a3 0, a4 0.070, a1 0.097, ... -> a0, a3.
    # Cosine to t0 among a1, a2, a4, a6, a7: 0.195, 0, 0.140, 0.070, 0.707 -> a2.
    assert ctx.details[0] == {"pivots": [7], "text_pivots": [10]}
    assert kept_ranks(keep, ctx.audio_mask) == [[0, 2, 3, 5]]


def test_dart_needs_key_modules_or_hidden_norms():
    class Bare(_Layer):
        def __init__(self) -> None:
            super().__init__()
            del self.input_layernorm

    adapter = _Adapter()
    adapter.layers[2] = Bare()
    assert adapter.key_projection(2) is None and adapter.key_projection(1) is not None
    with pytest.raises(ValueError, match="pivot_norm='hidden'"):
        DART().bind(adapter, 2)
    DART(pivot_norm="hidden").bind(adapter, 2)  # needs nothing from the model
    DART().bind(adapter, 1)


def test_one_dart_object_serves_two_models(single):
    """Methods keep no model state: wrapping a second model with the same DART object leaves the first one's
    choice as a fresh object makes it."""
    first, second = tiny.tiny_model(seed=1), tiny.tiny_model(seed=2)
    shared = DART(audio_pivots=2, text_pivots=2)
    kept = {}
    for name, model, method in (("fresh", first, DART(audio_pivots=2, text_pivots=2)), ("shared", first, shared)):
        headrouter.wrap(model, keep_ratio=0.3, method=method)
        if name == "shared":
            headrouter.wrap(second, keep_ratio=0.3, method=shared)
        with torch.no_grad():
            model(**single)
        kept[name] = model.headrouter.records[0].kept_positions
        headrouter.unwrap(model)
    headrouter.unwrap(second)
    with headrouter.pruning(second, keep_ratio=0.3, method=shared) as router, torch.no_grad():
        second(**single)
    assert kept["shared"] == kept["fresh"]
    assert router.records[0].kept_positions != kept["fresh"]  # the two models do choose differently


def test_dart_edge_cases():
    ctx = dart_context(rows=5)
    ctx.audio_mask[2] = False  # row 2: no audio at all
    ctx.audio_mask[3, 3:] = False  # row 3: one audio token (a0)
    ctx.attention_mask[4, 10:] = False  # row 4: nothing after the audio is real -> no text pivots
    counts = torch.tensor([3, 8, 0, 1, 4])
    keep = DART(audio_pivots=4, text_pivots=4, pivot_norm="hidden").select(ctx, counts)
    check_contract(keep, ctx.audio_mask, counts)
    ranks = kept_ranks(keep, ctx.audio_mask)
    # k = 3 < 4 pivots: the 3 largest audio norms (a0 2, a1 1.3, then a4 and a5 tie at 1.1 -> the earlier, a4)
    assert ranks[0] == [0, 1, 4]
    assert ranks[1:4] == [list(range(8)), [], [0]]
    # row 4: 4 audio pivots (a0, a1, a4, a5) keep themselves; no text pivots, so budget 0 after them
    assert ranks[4] == [0, 1, 4, 5]
    assert ctx.details[2] == {} and ctx.details[4]["text_pivots"] == []


def test_dart_rows_do_not_depend_on_their_batch():
    torch.manual_seed(0)
    audio = torch.zeros(3, 40, dtype=torch.bool)
    audio[0, 5:35] = True
    audio[1, 2:12] = audio[1, 20:30] = True
    hidden = torch.randn(3, 40, 8)
    padding = torch.ones(3, 40, dtype=torch.bool)
    padding[1, :2] = False
    counts = torch.tensor([9, 6, 0])
    method = DART(pivot_norm="hidden")
    batch = method.select(ScoringContext(audio, padding, hidden, 2, details=[{}, {}, {}]), counts)
    for row in range(3):
        alone = ScoringContext(audio[row : row + 1], padding[row : row + 1], hidden[row : row + 1], 2)
        assert torch.equal(method.select(alone, counts[row : row + 1])[0], batch[row])
    assert torch.equal(method.select(ScoringContext(audio, padding, hidden, 2), counts), batch)


def test_dart_settings():
    assert DART().config() == {"name": "dart", "audio_pivots": 4, "text_pivots": 4, "pivot_norm": "key"}
    assert DART.queries is None
    for bad in ({"audio_pivots": 0}, {"text_pivots": -1}, {"audio_pivots": 2.0}, {"pivot_norm": "value"}):
        with pytest.raises(ValueError):
            DART(**bad)


def test_dart_pivots_are_the_largest_key_norms_of_layer_k_on_the_tiny_model(models, single):
    model, k = models["sdpa"], 2
    layer = adapter_for(model).layers[k]
    inputs = []
    handle = layer.register_forward_pre_hook(lambda module, args: inputs.append(args[0]))
    with torch.no_grad():
        model(**single)
    handle.remove()
    with torch.no_grad():
        norms = layer.self_attn.k_proj(layer.input_layernorm(inputs[0][0])).abs().sum(-1)
    ids = single["input_ids"][0]
    audio = (ids == tiny.AUDIO_TOKEN).nonzero().squeeze(-1)
    after = torch.arange(audio.max() + 1, ids.numel())
    with headrouter.pruning(model, keep_ratio=0.3, method="dart", prune_layer=k) as router, torch.no_grad():
        model(**single)
    details = router.records[0].details
    assert details["pivots"] == sorted(audio[norms[audio].topk(4).indices].tolist())
    assert details["text_pivots"] == sorted(after[norms[after].topk(4).indices].tolist())
    assert set(details["pivots"]) <= set(router.records[0].kept_positions)
