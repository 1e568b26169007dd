"""Queries and keys of the common decoder attention: ``q_proj``/``k_proj`` on the layer's normed input
(``input_layernorm``), then rotary embeddings applied as ``x * cos + rotate_half(x) * sin`` (Qwen2, Qwen2.5-Omni's
thinker, Llama and their kin). Adapters of such families call these instead of each writing them again; a family
with q/k norms or another rotary writes its own."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def rotary_query_key(
    attention: nn.Module,
    hidden_states: torch.Tensor,
    position_embeddings: tuple[torch.Tensor, torch.Tensor],
    query_index: torch.Tensor,
    rotate_half: Callable[[torch.Tensor], torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Post-rotary queries of the rows ``query_index`` ``(B, H, Q, d)`` and keys of every row ``(B, H_kv, L, d)``,
    as ``attention`` computes them; ``rotate_half`` is the family's own (from its modeling file)."""
    batch, seq, _ = hidden_states.shape
    d = attention.head_dim
    rows = torch.arange(batch, device=hidden_states.device)[:, None]
    cos, sin = (t.expand(batch, -1, -1) for t in position_embeddings)
    query = attention.q_proj(hidden_states[rows, query_index]).view(batch, query_index.shape[1], -1, d)
    key = attention.k_proj(hidden_states).view(batch, seq, -1, d).transpose(1, 2)

    def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        return x * cos[:, None] + rotate_half(x) * sin[:, None]

    query = rotate(query.transpose(1, 2), cos[rows, query_index], sin[rows, query_index])
    return query, rotate(key, cos, sin)


def input_norm_key_projection(layer: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """A decoder layer's keys before rotary, from its input hidden states: ``self_attn.k_proj(input_layernorm(x))``."""
    return lambda states: layer.self_attn.k_proj(layer.input_layernorm(states))


def partial_rotary(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rotate_half: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """Partial rotary (Phi-3 and Phi-4's ``partial_rotary_factor``): the first ``cos.shape[-1]`` channels of ``x``
    rotated as ``x * cos + rotate_half(x) * sin``, the others passed through; ``cos``/``sin`` broadcast against
    ``x``, and ``rotate_half`` is the family's own."""
    width = cos.shape[-1]
    rotated, passed = x[..., :width], x[..., width:]
    return torch.cat([rotated * cos + rotate_half(rotated) * sin, passed], dim=-1)
