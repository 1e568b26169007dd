"""Random: a seeded uniform choice of audio tokens, the floor every method must beat."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import torch

from headrouter.methods.base import ScoringContext, ScoringMethod, register_method


@register_method
@dataclass(repr=False)
class RandomSelection(ScoringMethod):
    """Uniform random scores; every sample draws from a generator seeded with ``seed``.

    Seeding per sample (not per batch) makes the choice reproducible and the same for a sample whether
    it runs alone or in a batch.
    """

    name = "random"
    seed: int = 0

    def __post_init__(self) -> None:
        # checked here, at wrap time: torch would only refuse a bad seed at the first generate
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral):
            raise TypeError(f"seed must be an int, got {type(self.seed).__name__} {self.seed!r}")
        if not -(2**63) <= self.seed < 2**64:
            raise ValueError(f"seed must be an int from -2**63 to 2**64 - 1 (torch's seed range), got {self.seed}")
        self.seed = int(self.seed)

    def score(self, ctx: ScoringContext) -> torch.Tensor:
        scores = torch.zeros(ctx.audio_mask.shape, dtype=torch.float32)
        for row, mask in enumerate(ctx.audio_mask.cpu()):
            generator = torch.Generator().manual_seed(self.seed)
            scores[row, mask] = torch.rand(int(mask.sum()), generator=generator)
        return scores.to(ctx.audio_mask.device)
