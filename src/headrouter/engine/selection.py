"""Scores -> kept tokens: the pure tensor step between a scoring method and the surgery at layer K.

Everything here is shape-generic, batch-aware and free of model knowledge, so it is property-tested
on random masks (tests/test_selection.py).
"""

from __future__ import annotations

import torch

# ceil(keep_ratio * n) is computed in floating point, where 0.07 * 100 is 7.000000000000001. Products
# within this distance above an integer are treated as that integer, so 0.07 of 100 keeps 7, not 8.
_ROUNDOFF = 1e-9


def keep_counts(n_audio: torch.Tensor, keep_ratio: float) -> torch.Tensor:
    """Audio tokens to keep per sample: ``ceil(keep_ratio * n)``, at least 1 where ``n > 0``, 0 where ``n == 0``."""
    counts = torch.ceil(n_audio.to(torch.float64) * keep_ratio - _ROUNDOFF).long()
    return torch.where(n_audio > 0, counts.clamp(min=1), torch.zeros_like(counts)).clamp(max=n_audio)


def top_k_audio(scores: torch.Tensor, audio_mask: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Keep mask ``(batch, seq)``: every non-audio token, plus the ``counts[b]`` best-scoring audio tokens of row b.

    Ties are broken towards the earlier position (stable sorts), so the result is deterministic; scores
    keep their dtype (no rounding to float32) and non-audio positions are never read.
    """
    if scores.shape != audio_mask.shape:
        raise ValueError(
            f"scores has shape {tuple(scores.shape)}, audio_mask {tuple(audio_mask.shape)}; they must match"
        )
    by_score = torch.sort(scores, dim=-1, descending=True, stable=True).indices
    audio_last = (~torch.gather(audio_mask, -1, by_score)).int()
    order = torch.gather(by_score, -1, torch.sort(audio_last, dim=-1, stable=True).indices)  # audio first, by score
    rank = torch.empty_like(order)
    rank.scatter_(-1, order, torch.arange(order.shape[-1], device=order.device).expand_as(order))
    return ~audio_mask | (rank < counts[:, None])


def check_keep_mask(keep: torch.Tensor, audio_mask: torch.Tensor, counts: torch.Tensor, method: str) -> None:
    """``RuntimeError`` if a method's keep mask drops a non-audio token or keeps a wrong number of audio tokens."""
    if keep.shape != audio_mask.shape or keep.dtype != torch.bool:
        raise RuntimeError(
            f"method {method!r} returned a keep mask of shape {tuple(keep.shape)} and dtype {keep.dtype}; "
            f"expected torch.bool of shape {tuple(audio_mask.shape)}"
        )
    if not bool(keep[~audio_mask].all()):
        raise RuntimeError(f"method {method!r} dropped non-audio tokens; only audio tokens may be pruned")
    kept_audio = (keep & audio_mask).sum(-1)
    if not torch.equal(kept_audio, counts):
        raise RuntimeError(
            f"method {method!r} kept {kept_audio.tolist()} audio tokens per sample; expected {counts.tolist()}"
        )


def pack_layout(keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lay out the kept tokens of each row in their original order, right-aligned.

    Returns ``index`` (original position of each slot, ``(batch, max_kept)``) and ``valid`` (False for the
    filler slots that shorter rows get at the front). Right alignment keeps every row's last token in the
    last slot, which is where generation reads the next-token logits.
    """
    counts = keep.sum(-1)
    width = int(counts.max()) if keep.numel() else 0
    batch, seq = keep.shape
    start = width - counts
    slot = start[:, None] + keep.long().cumsum(-1) - 1
    index = torch.zeros(batch, width, dtype=torch.long, device=keep.device)
    rows = torch.arange(batch, device=keep.device)[:, None].expand(batch, seq)
    cols = torch.arange(seq, device=keep.device).expand(batch, seq)
    index[rows[keep], slot[keep]] = cols[keep]
    valid = torch.arange(width, device=keep.device)[None, :] >= start[:, None]
    return index, valid
