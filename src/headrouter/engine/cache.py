"""What a pruned KV cache carries so that it can be continued: kept with the cache itself, not with the router.

After a pruned prefill, layers ``>= K`` of the cache hold only the kept tokens. A later step on that cache needs
the kept tokens' padding mask, their original positions (sliding windows count those) and the prefill's input length
to build those layers' attention masks. Storing them on
the cache object (not on the router) means any number of pruned caches can be continued in any order, their deep
copies too (transformers' prefix-caching pattern), and a cache survives re-wrapping the model.

The default cache, transformers' ``DynamicCache``, becomes a :class:`PrunedCache` (same data, one more check): its
``update`` refuses a forward that headrouter did not prepare, such as continuing it on an unwrapped model, before any
layer is written, instead of failing with a shape mismatch deep inside attention.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import DynamicCache

ATTRIBUTE = "headrouter"
"""The :class:`PrunedCacheState` of a pruned cache lives at ``cache.headrouter``."""


@dataclass
class PrunedCacheState:
    """What continuing a pruned cache needs from the prefill that pruned it."""

    padding_mask: torch.Tensor
    """``(B, L')`` bool: the kept tokens' padding mask, in the pruned layers' slot order (filler slots False)."""
    input_length: int
    """Tokens in the prefill's input (the length of the unpruned layers' cache after prefill)."""
    prune_layer: int
    """K: layers ``>= K`` of the cache hold only the kept tokens."""
    positions: torch.Tensor
    """``(B, L')`` long: each slot's position in the prefill's input (the token's original position). A token that
    arrives later sits at ``input_length + t`` in the original layout, ``t`` counting from the first such token."""
    open: bool = False
    """True while a forward that headrouter prepared runs on this cache."""


class PrunedCache(DynamicCache):
    """A ``DynamicCache`` whose layers ``>= K`` hold only the kept tokens of a pruned prefill."""

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args, **kwargs):
        state = pruned_state(self)
        if state is not None and not state.open:
            raise RuntimeError(
                f"this cache was pruned by headrouter (its layers >= {state.prune_layer} hold only the kept tokens); "
                f"continue it on a model wrapped with headrouter.wrap(..., prune_layer={state.prune_layer}), or start "
                "again from the prompt without it"
            )
        return super().update(key_states, value_states, layer_idx, *args, **kwargs)


def cache_argument(kwargs: dict):
    """The cache among a forward's keyword arguments: ``cache`` (transformers >= 5.24) or ``past_key_values``."""
    return kwargs.get("cache", kwargs.get("past_key_values"))


def pruned_state(cache) -> PrunedCacheState | None:
    """The state a pruned prefill left on ``cache``; None for a cache that was not pruned (or no cache)."""
    return getattr(cache, ATTRIBUTE, None)


def mark_pruned(cache, state: PrunedCacheState) -> None:
    """Record on ``cache`` that a prefill pruned it. A plain ``DynamicCache`` becomes a :class:`PrunedCache`."""
    if type(cache) is DynamicCache:
        cache.__class__ = PrunedCache
    setattr(cache, ATTRIBUTE, state)


def unmark(cache) -> None:
    """Forget an earlier prefill's record on ``cache`` (a no-op for a cache without one, or None)."""
    if pruned_state(cache) is None:
        return
    delattr(cache, ATTRIBUTE)
    if type(cache) is PrunedCache:
        cache.__class__ = DynamicCache
