"""Applying a selection at layer K: shorten what the pruned layers see, and give them masks that fit their cache.

Layers before K run on the full sequence and keep a full KV cache; layers from K on see only the kept tokens, packed
into slots in their original order. Each pruned layer's per-token inputs (rotary embeddings, text positions, and what
else its family passes per token) are gathered at prefill, each distinct tensor once. Their attention masks are built
once per forward and attention kind, from the kept tokens' padding mask plus the columns of tokens that arrived after
prefill, through transformers' own mask builders sized on the first pruned layer of that kind's cache, so eager, sdpa,
flash and flex each get the mask format they expect:

- full attention: causal over the slots (the same as causal over original positions: slots keep their order);
- sliding windows: the model's sliding mask, and a key at original position ``p_k`` visible to a query at ``p_q`` only
  if ``p_q - p_k < window`` (the unpruned model's window, counted in original positions, not in slots). A sliding
  cache keeps the last ``window - 1`` slots; those hold every key a query can still see, since the slots of the
  positions ``p_q - window < p <= p_q`` are the last ones and at most ``window`` of them exist.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import cache

import torch
from torch import nn
from transformers.masking_utils import create_causal_mask, create_sliding_window_causal_mask

SLIDING_WINDOW_IMPLEMENTATIONS = ("eager", "sdpa", "flex_attention")
"""Attention implementations whose masks can carry a window over original positions (flash attention applies its
window over the slots, through its own ``sliding_window`` argument)."""


def gather_tokens(tensor: torch.Tensor, index: torch.Tensor, axis: int = 1) -> torch.Tensor:
    """``tensor[..., b, index[b, j], ...]`` for a tensor whose token axis is ``axis`` and batch axis (of size B or 1)
    the one before it, and a ``(B, L')`` index.

    Advanced indexing, not ``torch.gather`` with an index expanded over the trailing dims: that builds a
    full-size index tensor (3x the output's memory at bf16) and is several times slower.
    """
    lead = (slice(None),) * (axis - 1)
    tensor = tensor.expand(*tensor.shape[: axis - 1], index.shape[0], *tensor.shape[axis:])
    rows = torch.arange(index.shape[0], device=index.device)[:, None]
    return tensor[(*lead, rows, index)]


class TokenGather:
    """Gathers the kept tokens ``index`` ``(B, L')`` of one prefill from per-token tensors, each distinct tensor once:
    the layers of a kind share their rotary embeddings and positions, so those are gathered once per forward."""

    def __init__(self, index: torch.Tensor) -> None:
        self.index = index
        self._done: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}

    def __call__(self, tensor: torch.Tensor, axis: int = 1) -> torch.Tensor:
        key = (id(tensor), axis)
        done = self._done.get(key)
        if done is None or done[0] is not tensor:  # holding the source keeps its id from being reused
            done = self._done[key] = (tensor, gather_tokens(tensor, self.index, axis))
        return done[1]


def keyword_call(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """A layer call with every argument after the first (the hidden states) passed by its name, so that hooks can
    replace any of them without passing one twice."""
    if len(args) <= 1:
        return args, kwargs
    names = _positional_names(type(module))
    if len(args) > len(names):
        raise TypeError(f"{type(module).__name__} was called with {len(args)} positional arguments; it names {names}")
    return args[:1], {**kwargs, **dict(zip(names[1 : len(args)], args[1:], strict=True))}


@cache
def _positional_names(module_class: type) -> tuple[str, ...]:
    parameters = list(inspect.signature(module_class.forward).parameters.values())[1:]  # without self
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return tuple(p.name for p in parameters if p.kind in kinds)


def check_sliding_window_support(implementation: str) -> None:
    """``ValueError`` unless the attention ``implementation`` can take windows over original positions."""
    if implementation not in SLIDING_WINDOW_IMPLEMENTATIONS:
        raise ValueError(
            f"headrouter cannot prune before sliding-window layers under {implementation!r} attention: it applies "
            "its window over the kept tokens, not their original positions. Use one of "
            f"{', '.join(SLIDING_WINDOW_IMPLEMENTATIONS)}, or a prune_layer after the sliding-window layers"
        )


def original_window(positions: torch.Tensor, window: int) -> Callable:
    """A mask function (transformers' ``(batch, head, q_idx, kv_idx)`` form over slots): the key slot's original
    position is less than ``window`` before the query slot's; ``positions`` ``(B, slots)`` maps slots to them."""

    def inner(batch_idx, head_idx, q_idx, kv_idx):
        return positions[batch_idx, q_idx] - positions[batch_idx, kv_idx] < window

    return inner


def pruned_attention_mask(
    config,
    hidden_states: torch.Tensor,
    padding_mask: torch.Tensor,
    cache,
    layer: int,
    window: int | None = None,
    positions: torch.Tensor | None = None,
):
    """The mask of the pruned layers of layer ``layer``'s kind: causal over the slots, padding from ``padding_mask``
    ``(B, kv_len)`` (kept tokens, then tokens seen since prefill), sized on that layer's own cache; with a ``window``,
    also within that window over the slots' original ``positions`` ``(B, kv_len)``. ``hidden_states`` ``(B, q_len,
    ...)`` give the batch, query length, dtype and device."""
    # The cache goes in by position: transformers 5.23 names it ``past_key_values``, 5.24 ``cache`` (and warns on
    # the old name); the fourth place holds it in both.
    layer_idx = layer if cache is not None else None
    if window is None:
        return create_causal_mask(config, hidden_states, padding_mask, cache, position_ids=None, layer_idx=layer_idx)
    check_sliding_window_support(config._attn_implementation)
    return create_sliding_window_causal_mask(
        config,
        hidden_states,
        padding_mask,
        cache,
        position_ids=None,
        and_mask_function=original_window(positions, window),
        layer_idx=layer_idx,
    )
