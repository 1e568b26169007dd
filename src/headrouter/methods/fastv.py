"""FastV: an audio token's importance is the last prompt token's attention to it, averaged over heads."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from headrouter.methods.base import ScoringContext, ScoringMethod, register_method


@register_method
@dataclass(repr=False)
class FastV(ScoringMethod):
    """Mean over heads of the last token's attention at layer K-1 (Chen et al., 2024), the usual baseline."""

    name = "fastv"
    queries = "last"

    def score(self, ctx: ScoringContext) -> torch.Tensor:
        rows = torch.arange(ctx.attention.shape[0], device=ctx.attention.device)
        last = ctx.attention[rows, :, ctx.last_query]  # (B, H, L)
        return last.mean(dim=1)
