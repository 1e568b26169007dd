"""Property tests of the selection step (scores -> kept tokens -> packed layout) and of the attention capture.

The selection functions are checked against pure-Python references on random batches: any audio layout
(several runs, none at all, all audio), left or right padding (padding is never audio), ties in the scores.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from headrouter.engine.capture import attention_rows, query_positions
from headrouter.engine.selection import check_keep_mask, keep_counts, pack_layout, top_k_audio

SETTINGS = settings(max_examples=200, deadline=None)


# ---------------------------------------------------------------------------------------------- strategies


@st.composite
def audio_row(draw, length: int) -> list[bool]:
    """An audio pattern over ``length`` real tokens: random bits, contiguous runs, none, or all audio."""
    kind = draw(st.sampled_from(["bits", "runs", "none", "all"]))
    if kind == "none":
        return [False] * length
    if kind == "all":
        return [True] * length
    if kind == "bits":
        return draw(st.lists(st.booleans(), min_size=length, max_size=length))
    row = [False] * length
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, length - 1))
        stop = draw(st.integers(start + 1, length))
        row[start:stop] = [True] * (stop - start)
    return row


@st.composite
def layouts(draw, max_batch: int = 5, max_seq: int = 60) -> tuple[torch.Tensor, torch.Tensor]:
    """``(audio_mask, attention_mask)`` of shape ``(B, L)``: each row has 1..L real tokens, padded on one side."""
    batch = draw(st.integers(1, max_batch))
    seq = draw(st.integers(1, max_seq))
    side = draw(st.sampled_from(["left", "right"]))
    audio, attention = [], []
    for _ in range(batch):
        real = draw(st.integers(1, seq))
        pattern = draw(audio_row(real))
        pad = seq - real
        if side == "left":
            audio.append([False] * pad + pattern)
            attention.append([False] * pad + [True] * real)
        else:
            audio.append(pattern + [False] * pad)
            attention.append([True] * real + [False] * pad)
    return torch.tensor(audio, dtype=torch.bool), torch.tensor(attention, dtype=torch.bool)


# Keep ratios in (0, 1]: simple fractions and short decimals (what people pass), and arbitrary floats.
keep_ratios = st.one_of(
    st.just(1.0),
    st.integers(1, 20).flatmap(lambda m: st.integers(1, m).map(lambda k: k / m)),
    st.integers(1, 1000).map(lambda k: k / 1000),
    st.floats(0.0, 1.0, exclude_min=True, allow_nan=False),
)


@st.composite
def scored_layouts(draw):
    """``(audio_mask, attention_mask, scores)`` with float32 scores.

    Scores come from a seeded generator (drawing hundreds of elements one by one is slow): a small
    integer set (many ties), arbitrary floats, or a mix. Non-audio positions hold junk (even NaN or
    infinities): they are never read.
    """
    audio, attention = draw(layouts())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["ties", "floats", "mixed"]))
    shape = tuple(audio.shape)
    ties = rng.integers(-2, 3, shape).astype(np.float32)
    floats = (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, shape)).astype(np.float32)
    scores = {"ties": ties, "floats": floats, "mixed": np.where(rng.random(shape) < 0.5, ties, floats)}[kind]
    junk = rng.choice(np.array([np.nan, np.inf, -np.inf, 0.0, 1e30], dtype=np.float32), shape)
    scores = np.where(audio.numpy(), scores, junk)
    return audio, attention, torch.from_numpy(scores)


# ---------------------------------------------------------------------------------------------- references


def reference_count(n: int, ratio: float) -> set[int]:
    """Acceptable values of ``ceil(ratio * n)``, ``ratio`` read as the short fraction it stands for.

    Normally a single value. Only when the exact product lies a hair (1e-10 .. 1e-6) above an integer is
    the intent ambiguous (a ratio like 0.7000000005): then both neighbours are accepted.
    """
    if n == 0:
        return {0}
    exact = Fraction(ratio) * n
    excess = exact - math.floor(exact)
    if Fraction(1, 10**10) < excess < Fraction(1, 10**6):
        candidates = {math.floor(exact), math.floor(exact) + 1}
    else:
        candidates = {math.ceil(Fraction(ratio).limit_denominator(10**6) * n)}
    return {min(max(c, 1), n) for c in candidates}


def reference_top_k(scores: torch.Tensor, audio_mask: torch.Tensor, counts: torch.Tensor) -> list[list[bool]]:
    """Keep every non-audio token and the ``counts[b]`` first audio positions sorted by (-score, position)."""
    keep = []
    for row_scores, row_audio, k in zip(scores.tolist(), audio_mask.tolist(), counts.tolist(), strict=True):
        audio_positions = [i for i, a in enumerate(row_audio) if a]
        best = sorted(audio_positions, key=lambda i: (-row_scores[i], i))[:k]
        keep.append([not a or i in best for i, a in enumerate(row_audio)])
    return keep


# ---------------------------------------------------------------------------------------------- keep_counts


@pytest.mark.parametrize(
    ("n", "ratio", "expected"),
    [
        (10, 0.7, 7),
        (100, 0.07, 7),  # 0.07 * 100 == 7.000000000000001 in floating point: must not become 8
        (25, 0.28, 7),  # 7.000000000000001 too
        (50, 0.56, 28),  # 28.000000000000004
        (10, 0.3, 3),
        (3, 0.5, 2),
        (5, 0.01, 1),
        (7, 1.0, 7),
        (0, 0.5, 0),
        (0, 1.0, 0),
        (1, 0.001, 1),
        (10, 0.1, 1),  # the float 0.1 is slightly above 1/10: still 1
        (3, 1 / 3, 1),
        (3, 2 / 3, 2),
        (10, 0.71, 8),
        (1000, 0.999, 999),
        (10, 0.7 + 1e-12, 7),  # within round-off of 0.7
    ],
)
def test_keep_counts_hand_computed(n, ratio, expected):
    out = keep_counts(torch.tensor([n]), ratio)
    assert out.dtype == torch.long
    assert out.tolist() == [expected]


def test_keep_counts_batch():
    n = torch.tensor([10, 0, 3, 5, 7, 1])
    assert keep_counts(n, 0.7).tolist() == [7, 0, 3, 4, 5, 1]


@SETTINGS
@given(n=st.lists(st.integers(0, 100_000), min_size=1, max_size=8), ratio=keep_ratios)
def test_keep_counts_exact(n, ratio):
    out = keep_counts(torch.tensor(n), ratio).tolist()
    for n_b, k_b in zip(n, out, strict=True):
        assert k_b in reference_count(n_b, ratio), (n_b, ratio, k_b)
        assert 0 <= k_b <= n_b
        assert (k_b >= 1) == (n_b > 0)


# ---------------------------------------------------------------------------------------------- top_k_audio


@SETTINGS
@given(data=scored_layouts(), ratio=keep_ratios)
def test_top_k_audio_properties(data, ratio):
    audio, attention, scores = data
    counts = keep_counts(audio.sum(-1), ratio)
    keep = top_k_audio(scores, audio, counts)

    assert keep.dtype == torch.bool and keep.shape == audio.shape
    assert bool(keep[~audio].all()), "a non-audio token (text or padding) was dropped"
    assert torch.equal((keep & audio).sum(-1), counts)
    for b in range(audio.shape[0]):
        kept = scores[b][keep[b] & audio[b]]
        dropped = scores[b][~keep[b] & audio[b]]
        if kept.numel() and dropped.numel():
            assert kept.min() >= dropped.max()
    assert keep.tolist() == reference_top_k(scores, audio, counts)
    check_keep_mask(keep, audio, counts, "top_k")  # must not raise


def test_top_k_audio_ties_prefer_earlier():
    audio = torch.tensor([[False, True, True, True, True, False]])
    scores = torch.tensor([[9.0, 1.0, 2.0, 1.0, 2.0, 9.0]])
    keep = top_k_audio(scores, audio, torch.tensor([3]))
    assert keep.tolist() == [[True, True, True, False, True, True]]


def test_top_k_audio_float64_scores():
    audio = torch.tensor([[True, True]])
    scores = torch.tensor([[1.0, 1.0 + 1e-10]], dtype=torch.float64)
    assert top_k_audio(scores, audio, torch.tensor([1])).tolist() == [[False, True]]


def test_top_k_audio_minus_infinity_audio_score_still_counts():
    # an audio token scored -inf still outranks every non-audio position
    keep = top_k_audio(torch.tensor([[0.0, float("-inf")]]), torch.tensor([[False, True]]), torch.tensor([1]))
    assert keep.tolist() == [[True, True]]


def test_top_k_audio_shape_mismatch():
    audio = torch.zeros(2, 5, dtype=torch.bool)
    with pytest.raises(ValueError):
        top_k_audio(torch.zeros(2, 4), audio, torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError):
        top_k_audio(torch.zeros(1, 5), audio, torch.zeros(2, dtype=torch.long))


# ---------------------------------------------------------------------------------------------- check_keep_mask


@SETTINGS
@given(data=scored_layouts(), ratio=keep_ratios, pick=st.integers(0, 10**6))
def test_check_keep_mask_rejects_bad_masks(data, ratio, pick):
    audio, _, scores = data
    counts = keep_counts(audio.sum(-1), ratio)
    keep = top_k_audio(scores, audio, counts)
    check_keep_mask(keep, audio, counts, "ok")

    text = (~audio).nonzero().tolist()
    if text:  # drop one non-audio token
        b, i = text[pick % len(text)]
        bad = keep.clone()
        bad[b, i] = False
        with pytest.raises(RuntimeError, match="non-audio"):
            check_keep_mask(bad, audio, counts, "bad")

    positions = audio.nonzero().tolist()
    if positions:  # one audio token more or fewer
        b, i = positions[pick % len(positions)]
        bad = keep.clone()
        bad[b, i] = ~bad[b, i]
        with pytest.raises(RuntimeError, match="audio tokens per sample"):
            check_keep_mask(bad, audio, counts, "bad")

    wrong = counts.clone()
    wrong[pick % len(wrong)] += 1
    with pytest.raises(RuntimeError):
        check_keep_mask(keep, audio, wrong, "bad")

    for bad in (keep.long(), keep.float(), keep.to(torch.uint8)):
        with pytest.raises(RuntimeError, match="dtype"):
            check_keep_mask(bad, audio, counts, "bad")
    wrong_shapes = [keep[:, :-1], keep[:1].expand(keep.shape[0] + 1, -1), keep[:, :, None]]
    if keep.shape[0] != keep.shape[1]:
        wrong_shapes.append(keep.T)
    for bad in wrong_shapes:
        with pytest.raises(RuntimeError, match="shape"):
            check_keep_mask(bad, audio, counts, "bad")


def test_check_keep_mask_hand_examples():
    audio = torch.tensor([[False, True, True, False], [True, True, True, False]])
    counts = torch.tensor([1, 2])
    check_keep_mask(torch.tensor([[True, False, True, True], [True, False, True, True]]), audio, counts, "m")
    with pytest.raises(RuntimeError):  # text token 3 of row 1 dropped
        check_keep_mask(torch.tensor([[True, False, True, True], [True, False, True, False]]), audio, counts, "m")
    with pytest.raises(RuntimeError):  # three audio tokens in row 1
        check_keep_mask(torch.tensor([[True, False, True, True], [True, True, True, True]]), audio, counts, "m")
    with pytest.raises(RuntimeError):  # no audio in row 0
        check_keep_mask(torch.tensor([[True, False, False, True], [True, False, True, True]]), audio, counts, "m")
    with pytest.raises(RuntimeError):
        check_keep_mask(torch.ones(2, 4, dtype=torch.long), audio, counts, "m")
    with pytest.raises(RuntimeError):
        check_keep_mask(torch.ones(2, 3, dtype=torch.bool), audio, counts, "m")


# ---------------------------------------------------------------------------------------------- pack_layout


def assert_packed(keep: torch.Tensor) -> None:
    index, valid = pack_layout(keep)
    counts = keep.sum(-1)
    width = int(counts.max())
    assert index.shape == valid.shape == (keep.shape[0], width)
    assert index.dtype == torch.long and valid.dtype == torch.bool
    assert bool(((index >= 0) & (index < keep.shape[1])).all()), "filler slots must stay gatherable"
    for b in range(keep.shape[0]):
        kept = keep[b].nonzero().flatten().tolist()
        n_filler = width - len(kept)
        assert valid[b].tolist() == [False] * n_filler + [True] * len(kept)
        assert index[b][valid[b]].tolist() == kept
        if kept:
            assert int(index[b, -1]) == kept[-1]


@SETTINGS
@given(data=scored_layouts(), ratio=keep_ratios)
def test_pack_layout_of_selection(data, ratio):
    audio, _, scores = data
    keep = top_k_audio(scores, audio, keep_counts(audio.sum(-1), ratio))
    assert_packed(keep)


@SETTINGS
@given(keep=hnp.arrays(np.bool_, st.tuples(st.integers(1, 5), st.integers(1, 60))))
def test_pack_layout_any_mask(keep):
    """Arbitrary keep masks, including rows that keep nothing."""
    assert_packed(torch.from_numpy(keep))


def test_pack_layout_hand_example():
    keep = torch.tensor([[True, False, True, True], [False, False, False, True], [False, True, False, False]])
    index, valid = pack_layout(keep)
    assert valid.tolist() == [[True, True, True], [False, False, True], [False, False, True]]
    assert index[valid].tolist() == [0, 2, 3, 3, 1]
    assert index[:, -1].tolist() == [3, 3, 1]


# ---------------------------------------------------------------------------------------------- query_positions


def _mask(rows: list[str], char: str) -> torch.Tensor:
    return torch.tensor([[c == char for c in row] for row in rows])


def _layout(rows: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """``"."`` padding, ``"A"`` audio, ``"T"`` text."""
    return _mask(rows, "A"), ~_mask(rows, ".")


def _check_queries(rows: list[str], expected: list[list[int]]) -> None:
    audio, attention = _layout(rows)
    index, valid = query_positions(audio, attention, "after_audio")
    width = max(len(e) for e in expected)
    assert index.shape == valid.shape == (len(rows), width)
    assert valid.dtype == torch.bool
    for b, want in enumerate(expected):
        assert index[b][valid[b]].tolist() == want
        assert valid[b].tolist() == [True] * len(want) + [False] * (width - len(want))
        assert set(index[b].tolist()) <= set(want), "filler slots must repeat a valid position"


def test_query_positions_left_padding():
    rows = ["..TAAATT", "TAATAATT", "...TTTTT"]  # one span / two spans with text between / no audio
    _check_queries(rows, [[6, 7], [6, 7], [7]])
    audio, attention = _layout(rows)
    index, valid = query_positions(audio, attention, "last")
    assert index.tolist() == [[7], [7], [7]]
    assert valid.tolist() == [[True], [True], [True]]


def test_query_positions_right_padding():
    rows = ["TAATT..", "TATATTT", "TTT....", "TAA...."]  # ..., no audio, audio ends the prompt
    _check_queries(rows, [[3, 4], [4, 5, 6], [2], [2]])
    audio, attention = _layout(rows)
    index, valid = query_positions(audio, attention, "last")
    assert index.tolist() == [[4], [6], [2], [2]]
    assert bool(valid.all())


def test_query_positions_no_audio_anywhere():
    _check_queries(["TTTT", ".TTT"], [[3], [3]])


def test_query_positions_unknown_mode():
    audio, attention = _layout(["TAT"])
    with pytest.raises(ValueError):
        query_positions(audio, attention, "first")


@SETTINGS
@given(data=layouts())
def test_query_positions_properties(data):
    audio, attention = data
    rows = []
    for a, m in zip(audio.tolist(), attention.tolist(), strict=True):
        last = max(i for i, real in enumerate(m) if real)
        audio_pos = [i for i, x in enumerate(a) if x]
        if audio_pos:
            want = [i for i in range(audio_pos[-1] + 1, len(a)) if m[i] and not a[i]]
        else:
            want = []
        rows.append((last, sorted(set(want) | {last})))
    index, valid = query_positions(audio, attention, "after_audio")
    width = max(len(w) for _, w in rows)
    assert index.shape == valid.shape == (audio.shape[0], width)
    for b, (last, want) in enumerate(rows):
        assert index[b][valid[b]].tolist() == want
        assert index[b][~valid[b]].tolist() == [last] * (width - len(want))
    index, valid = query_positions(audio, attention, "last")
    assert index.flatten().tolist() == [last for last, _ in rows]
    assert bool(valid.all())


# ---------------------------------------------------------------------------------------------- attention_rows


def _softmax(logits: dict[int, float], length: int) -> list[float]:
    """Softmax over the allowed keys ``{position: logit}``; 0 elsewhere."""
    total = sum(math.exp(v) for v in logits.values())
    return [math.exp(logits[j]) / total if j in logits else 0.0 for j in range(length)]


def test_attention_rows_hand_computed():
    # keys k0=(1,0), k1=(0,1), k2=(1,1) shared by both query heads (H=2, H_kv=1); scaling 0.5
    key = torch.tensor([[[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]]])
    # queries at positions 1 and 2; head 0: (2,0), (0,1); head 1: (1,1), (-1,2)
    query = torch.tensor([[[[2.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [-1.0, 2.0]]]])
    query_index = torch.tensor([[1, 2]])
    assert query.shape == (1, 2, 2, 2) and key.shape == (1, 1, 3, 2)

    # q.k * 0.5 -- head 0 pos 1: (1, 0 | k2 is in the future); pos 2: (0, .5, .5)
    #              head 1 pos 1: (.5, .5 | future); pos 2: (-.5, 1, .5)
    expected = [
        [_softmax({0: 1.0, 1: 0.0}, 3), _softmax({0: 0.0, 1: 0.5, 2: 0.5}, 3)],
        [_softmax({0: 0.5, 1: 0.5}, 3), _softmax({0: -0.5, 1: 1.0, 2: 0.5}, 3)],
    ]
    assert expected[0][0] == pytest.approx([math.e / (math.e + 1), 1 / (math.e + 1), 0.0])
    out = attention_rows(query, key, query_index, torch.tensor([[True, True, True]]), 0.5)
    assert out.dtype == torch.float32 and out.shape == (1, 2, 2, 3)
    torch.testing.assert_close(out[0], torch.tensor(expected), atol=1e-6, rtol=0)
    assert float(out[0, :, 0, 2].abs().max()) == 0.0, "query at position 1 must not see key 2"

    # key 0 masked out (e.g. padding): position 1 sees only key 1, position 2 keys 1 and 2
    expected = [
        [[0.0, 1.0, 0.0], [0.0, 0.5, 0.5]],
        [[0.0, 1.0, 0.0], _softmax({1: 1.0, 2: 0.5}, 3)],
    ]
    out = attention_rows(query, key, query_index, torch.tensor([[False, True, True]]), 0.5)
    torch.testing.assert_close(out[0], torch.tensor(expected), atol=1e-6, rtol=0)


def _dense_rows(q_all, k, key_mask, query_index, scaling):
    """Eager attention over the full sequence in float64, rows at ``query_index`` (B, H, Q, L)."""
    heads, kv_heads = q_all.shape[1], k.shape[1]
    k = k.double().repeat_interleave(heads // kv_heads, dim=1)  # repeat_kv
    logits = q_all.double() @ k.transpose(-1, -2) * scaling  # (B, H, L, L)
    seq = k.shape[2]
    causal = torch.ones(seq, seq, dtype=torch.bool).tril()
    allowed = causal[None, None] & key_mask[:, None, None, :]
    probs = logits.masked_fill(~allowed, float("-inf")).softmax(-1)
    gather = query_index[:, None, :, None].expand(-1, heads, -1, seq)
    return torch.gather(probs, 2, gather)


@pytest.mark.parametrize("seed", range(8))
def test_attention_rows_matches_dense_eager(seed):
    gen = torch.Generator().manual_seed(seed)
    batch, heads, kv_heads, dim = 3, 4, 2, 8
    seq = int(torch.randint(4, 20, (1,), generator=gen))
    # random layout: left padding for even seeds, right padding for odd, one audio span per row (except row 2)
    audio = torch.zeros(batch, seq, dtype=torch.bool)
    attention = torch.zeros(batch, seq, dtype=torch.bool)
    for b in range(batch):
        real = int(torch.randint(2, seq + 1, (1,), generator=gen))
        start = seq - real if seed % 2 == 0 else 0
        attention[b, start : start + real] = True
        if b != 2 and real > 2:
            lo = start + int(torch.randint(0, real - 1, (1,), generator=gen))
            hi = lo + 1 + int(torch.randint(0, start + real - 1 - lo, (1,), generator=gen))
            audio[b, lo:hi] = True
    q_all = torch.randn(batch, heads, seq, dim, generator=gen)
    key = torch.randn(batch, kv_heads, seq, dim, generator=gen)
    scaling = dim**-0.5
    for mode in ("last", "after_audio"):
        query_index, _ = query_positions(audio, attention, mode)
        query = torch.gather(q_all, 2, query_index[:, None, :, None].expand(-1, heads, -1, dim))
        expected = _dense_rows(q_all, key, attention, query_index, scaling)
        out = attention_rows(query, key, query_index, attention, scaling)
        assert out.shape == expected.shape
        torch.testing.assert_close(out.double(), expected, atol=1e-6, rtol=0)
        # a non-contiguous query (as from a transpose of (B, Q, H, d)) gives the same rows
        strided = query.transpose(1, 2).contiguous().transpose(1, 2)
        torch.testing.assert_close(attention_rows(strided, key, query_index, attention, scaling), out)
