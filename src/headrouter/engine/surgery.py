"""Applying a selection at layer K: shorten what the pruned layers see, and give them masks that fit their cache.

Layers before K run on the full sequence and keep a full KV cache; layers from K on see only the kept
tokens. Their inputs (hidden states, rotary embeddings, text positions) are gathered once per prefill, and
their attention mask is built once per forward from the kept tokens' padding mask plus the columns of
tokens that arrived after prefill, through transformers' own ``create_causal_mask`` sized on layer K's
cache, so eager, sdpa, flash and flex each get the mask format they expect.
"""

from __future__ import annotations

import torch
from transformers.masking_utils import create_causal_mask


def gather_tokens(tensor: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``tensor[b, index[b, j]]`` for a ``(B or 1, L, ...)`` tensor and a ``(B, L')`` index.

    Advanced indexing, not ``torch.gather`` with an index expanded over the trailing dims: that builds a
    full-size index tensor (3x the output's memory at bf16) and is several times slower.
    """
    tensor = tensor.expand(index.shape[0], *tensor.shape[1:])
    rows = torch.arange(index.shape[0], device=index.device)[:, None]
    return tensor[rows, index]


def gather_layer_inputs(
    hidden_states: torch.Tensor,
    position_embeddings: tuple[torch.Tensor, torch.Tensor] | None,
    position_ids: torch.Tensor | None,
    index: torch.Tensor,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None, torch.Tensor | None]:
    """The kept tokens' hidden states, rotary ``(cos, sin)`` and text positions, in the packed layout."""
    hidden = gather_tokens(hidden_states, index)
    if position_embeddings is not None:
        position_embeddings = tuple(gather_tokens(t, index) for t in position_embeddings)
    if position_ids is not None:
        position_ids = gather_tokens(position_ids, index)
    return hidden, position_embeddings, position_ids


def pruned_attention_mask(config, hidden_states: torch.Tensor, padding_mask: torch.Tensor, cache, layer: int):
    """The mask layer ``layer`` and later need: causal over the packed layout, padding from ``padding_mask``
    ``(B, kv_len)`` (kept tokens, then tokens seen since prefill), sized on that layer's own cache."""
    # The cache goes in by position: transformers 5.23 names it ``past_key_values``, 5.24 ``cache`` (and warns on
    # the old name); the fourth place holds it in both.
    return create_causal_mask(
        config,
        hidden_states,
        padding_mask,
        cache,
        position_ids=None,
        layer_idx=layer if cache is not None else None,
    )
