"""Frame: evenly strided audio tokens, i.e. uniform subsampling in time."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from headrouter.methods.base import ScoringContext, ScoringMethod, register_method


@register_method
@dataclass(repr=False)
class FrameStride(ScoringMethod):
    """Keep audio tokens at evenly spaced ranks ``floor((i + 0.5) * n / k)`` of each sample's audio sequence.

    Ranks count audio tokens only, so several clips in one prompt are strided as one stream, whatever
    lies between them.
    """

    name = "frame"

    def select(self, ctx: ScoringContext, counts: torch.Tensor) -> torch.Tensor:
        keep = ~ctx.audio_mask
        for row in range(keep.shape[0]):
            positions = ctx.audio_mask[row].nonzero().squeeze(-1)
            n, k = positions.numel(), int(counts[row])
            if k == 0:
                continue
            ranks = ((torch.arange(k, device=positions.device) * 2 + 1) * n) // (2 * k)
            keep[row, positions[ranks]] = True
        return keep
