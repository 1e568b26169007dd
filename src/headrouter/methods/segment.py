"""Segment: the audio split into equal time segments, each keeping its share of the budget by an inner score.

Segment-wise top-k (Gibier et al., 2025, "Segmentwise Pruning in Audio-Language Models") keeps the
best-scored tokens inside each time segment rather than over the whole clip, so that no stretch of the
audio loses all its tokens to another that the score happens to favour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch

from headrouter.methods.base import (
    ScoringContext,
    ScoringMethod,
    get_method,
    method_from_config,
    register_method,
)

if TYPE_CHECKING:
    from headrouter.methods.headrouter.table import HeadTable


@register_method
@dataclass(repr=False)
class SegmentTopK(ScoringMethod):
    """Split each sample's audio into ``segments`` equal time segments and keep the best tokens of each.

    Ranks count audio tokens only (several clips form one timeline, as in ``frame``): rank ``r`` of ``n``
    falls in segment ``floor(r * segments / n)``. Segment ``j`` of ``n_j`` tokens gets the quota
    ``k * n_j / n`` of the sample's ``k`` kept tokens, rounded by largest remainder so the quotas sum to
    ``k`` exactly (equal remainders: the extra tokens go to evenly spaced segments, not the first ones), and
    keeps its ``quota`` best tokens by the score of ``inner``: a method that scores tokens, given as an object
    with its own settings (e.g. ``HeadRouterMethod(table=...)``), a registered name or method spec
    (:func:`~headrouter.methods.base.parse_spec`: ``"headrouter[smooth=0.25]"``), or a method config dict
    (:func:`~headrouter.methods.base.method_from_config`); default ``"fastv"``, the last prompt token's attention
    at layer K-1, mean over heads. The engine captures what ``inner`` needs, and ``inner`` reports what it reports;
    ``inner``'s own ``smooth`` smooths the scores segments rank; its ``diversity`` is refused (segments take plain
    top-k).
    """

    name = "segment"
    queries = "last"
    segments: int = 10
    inner: ScoringMethod | str | Mapping = "fastv"
    """Held as the method object once made, whatever form it was given in."""

    def __post_init__(self) -> None:
        if isinstance(self.segments, bool) or not isinstance(self.segments, int) or self.segments < 1:
            raise ValueError(f"segments must be an int >= 1, got {self.segments!r}")
        if isinstance(self.inner, str):
            self.inner = get_method(self.inner)
        elif isinstance(self.inner, Mapping):
            self.inner = method_from_config(self.inner)
        if not isinstance(self.inner, ScoringMethod):
            raise TypeError(
                f"inner must be a ScoringMethod, a registered method name or a method config, "
                f"got {type(self.inner).__name__}"
            )
        if isinstance(self.inner, SegmentTopK):
            raise ValueError("inner must be another method than 'segment'")
        if type(self.inner).score is ScoringMethod.score:
            raise ValueError(f"inner must be a method that scores tokens; {self.inner.name!r} only selects them")
        if self.inner.diversity is not None:
            raise ValueError(
                "inner must not set diversity: segment keeps each segment's best tokens by the inner method's scores, "
                "not by its own selection"
            )
        # what the engine captures, whether a table is taken and what is reported are the inner method's
        self.queries = self.inner.queries
        self.capture_layers = self.inner.capture_layers
        self.uses_table = self.inner.uses_table
        self.reports = self.inner.reports

    def with_table(self, table: HeadTable) -> SegmentTopK:
        """These settings with an inner method that uses ``table``; only where ``inner`` uses one."""
        return replace(self, inner=self.inner.with_table(table))

    def bind(self, adapter, prune_layer: int) -> None:
        self.inner.bind(adapter, prune_layer)

    def select(self, ctx: ScoringContext, counts: torch.Tensor) -> torch.Tensor:
        scores = self.inner.smoothed_score(ctx)
        if not bool((torch.isfinite(scores) | ~ctx.audio_mask).all()):
            raise RuntimeError(
                f"method {self.name!r} (inner {self.inner.name!r}) produced non-finite scores for audio tokens"
            )
        keep = ~ctx.audio_mask
        for row in range(keep.shape[0]):
            positions = ctx.audio_mask[row].nonzero().squeeze(-1)
            n, k = positions.numel(), int(counts[row])
            if k == 0:
                continue
            segment = torch.arange(n, device=positions.device) * self.segments // n
            sizes = torch.bincount(segment, minlength=self.segments).tolist()
            quota = torch.tensor(segment_quotas(sizes, k), device=positions.device)
            # best first within each segment: stable sorts by score, then by segment (ties to the earlier token)
            by_score = torch.sort(scores[row, positions], descending=True, stable=True).indices
            order = by_score[torch.sort(segment[by_score], stable=True).indices]
            start = torch.cumsum(torch.tensor([0, *sizes[:-1]], device=positions.device), 0)
            rank = torch.arange(n, device=positions.device) - start[segment[order]]
            keep[row, positions[order[rank < quota[segment[order]]]]] = True
        return keep


def segment_quotas(sizes: list[int], count: int) -> list[int]:
    """Split ``count`` over segments in proportion to their ``sizes`` by largest remainder; sums to ``count``.

    Integer arithmetic throughout: segment ``j`` gets ``floor(count * sizes[j] / n)``, and the tokens left go
    one each to the segments of largest remainder ``count * sizes[j] mod n``. Among segments with equal
    remainders that cannot all get one, they go to evenly spaced ones (ranks ``floor((i + 1/2) * m / t)`` of
    the ``m`` tied segments), so that ties favour neither the start nor the end of the audio.
    """
    n = sum(sizes)
    if not 0 <= count <= n:
        raise ValueError(f"count must be between 0 and {n}, got {count}")
    if n == 0:
        return [0] * len(sizes)
    quotas = [size * count // n for size in sizes]
    remainders = [size * count % n for size in sizes]
    left = count - sum(quotas)
    for value in sorted(set(remainders), reverse=True):
        if left == 0:
            break
        tied = [j for j, remainder in enumerate(remainders) if remainder == value]
        take = min(left, len(tied))
        for i in range(take):
            quotas[tied[(2 * i + 1) * len(tied) // (2 * take)]] += 1
        left -= take
    return quotas
