"""Per-head statistics of captured attention rows (pure tensor code, shared by calibration and routing).

``rows`` are softmax attention rows ``(B, H, Q, L)`` of Q query tokens over all L keys; ``audio_mask``
``(B, L)`` marks the audio tokens; ``query_mask`` ``(B, Q)`` the real query slots. The formulas and the
reasons for them are in docs/method.md.
"""

from __future__ import annotations

import torch

_TINY = 1e-12


def audio_mass(rows: torch.Tensor, audio_mask: torch.Tensor) -> torch.Tensor:
    """``(B, H, Q)``: the share of each query's attention that lands on audio tokens."""
    return (rows * audio_mask[:, None, None, :]).sum(-1)


def audio_distribution(rows: torch.Tensor, audio_mask: torch.Tensor) -> torch.Tensor:
    """``(B, H, Q, L)``: attention renormalised over the audio tokens (zero elsewhere)."""
    audio = rows * audio_mask[:, None, None, :]
    return audio / audio.sum(-1, keepdim=True).clamp_min(_TINY)


def selectivity(rows: torch.Tensor, audio_mask: torch.Tensor) -> torch.Tensor:
    """``(B, H, Q)``: 1 - normalised entropy of the attention over audio tokens.

    0 for attention spread evenly over the audio, 1 for attention on a single audio token; samples with
    fewer than two audio tokens get 0 (no choice to be selective about).
    """
    p = audio_distribution(rows, audio_mask)
    entropy = -(p * torch.log(p.clamp_min(_TINY))).sum(-1)
    n = audio_mask.sum(-1).to(rows.dtype)
    log_n = torch.log(n.clamp_min(2.0))[:, None, None]
    value = 1.0 - entropy / log_n
    return torch.where((n >= 2)[:, None, None], value, torch.zeros_like(value))


def query_mean(values: torch.Tensor, query_mask: torch.Tensor) -> torch.Tensor:
    """``(B, H)``: mean of ``(B, H, Q)`` values over each row's real query slots."""
    weights = query_mask[:, None, :].to(values.dtype)
    return (values * weights).sum(-1) / weights.sum(-1).clamp_min(1.0)


def behaviour(rows: torch.Tensor, audio_mask: torch.Tensor, query_mask: torch.Tensor) -> torch.Tensor:
    """``(B, 2H)``: a sample's head-behaviour vector, ``[audio mass of each head, selectivity of each head]``."""
    mass = query_mean(audio_mass(rows, audio_mask), query_mask)
    select = query_mean(selectivity(rows, audio_mask), query_mask)
    return torch.cat([mass, select], dim=-1)


def text_features(hidden_states: torch.Tensor, query_index: torch.Tensor, query_mask: torch.Tensor) -> torch.Tensor:
    """``(B, D)``: a sample's instruction-text feature, the mean over its real query tokens (the text after the audio)
    of their hidden states ``(B, L, D)`` each scaled to unit root-mean-square (the residual stream's scale grows with
    depth and varies by token; its direction says what the instruction asks)."""
    rows = torch.arange(hidden_states.shape[0], device=hidden_states.device)[:, None]
    states = hidden_states[rows, query_index].double()  # (B, Q, D)
    states = states / states.pow(2).mean(-1, keepdim=True).sqrt().clamp_min(_TINY)
    weights = query_mask[..., None].to(states.dtype)
    return (states * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def relative_bins(audio_mask: torch.Tensor, bins: int) -> torch.Tensor:
    """``(B, L)`` long: the bin of each audio token's relative position ``rank / (n - 1)`` in its sample's audio.

    Ranks count audio tokens only, so several clips form one timeline; non-audio positions get bin 0.
    """
    rank = audio_mask.long().cumsum(-1) - 1
    n = audio_mask.sum(-1, keepdim=True)
    relative = rank.to(torch.float64) / (n - 1).clamp_min(1)
    index = torch.clamp((relative * bins).floor().long(), 0, bins - 1)
    return torch.where(audio_mask, index, torch.zeros_like(index))


def positional_profile(rows: torch.Tensor, audio_mask: torch.Tensor, bins: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sums for the positional prior from ``(B, H, L)`` rows: ``(H, bins)`` sum of ``n * p(j)`` and ``(bins,)``
    token counts per bin, over the batch.

    ``n * p(j)`` is 1 everywhere for attention spread evenly over the audio, so the prior's unit is
    "times the uniform share".
    """
    p = audio_distribution(rows[:, :, None, :], audio_mask)[:, :, 0]
    scaled = p * audio_mask.sum(-1)[:, None, None].to(p.dtype)
    index = relative_bins(audio_mask, bins)
    one_hot = torch.nn.functional.one_hot(index, bins).to(p.dtype) * audio_mask[..., None].to(p.dtype)  # (B, L, bins)
    sums = torch.einsum("bhl,blk->hk", scaled, one_hot)
    counts = one_hot.sum(dim=(0, 1))
    return sums, counts


def sparse_weights(importance: torch.Tensor, coverage: float) -> torch.Tensor:
    """Per layer, keep the fewest heads holding ``coverage`` of the layer's total importance; renormalise to sum 1.

    A layer with no importance at all gets uniform weights.
    """
    values, order = importance.sort(dim=-1, descending=True)
    total = values.sum(-1, keepdim=True)
    before = values.cumsum(-1) - values  # importance of the heads ranked above
    keep_sorted = before < coverage * total
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    weights = importance * keep
    norm = weights.sum(-1, keepdim=True)
    uniform = torch.full_like(importance, 1.0 / importance.shape[-1])
    return torch.where(norm > 0, weights / norm.clamp_min(1e-300), uniform)
