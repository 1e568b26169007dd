"""Attention rows of a few query tokens at layer K-1 (and the layers below it a method asks for), without a seq x seq
matrix.

The engine needs, per head, how much the prompt's query tokens (the last token, or the text after the
audio) attend to every key. It recomputes exactly those rows from the layer's own post-rotary queries
and keys: ``O(heads x queries x seq)`` memory, independent of the attention implementation (eager, sdpa,
flash, flex), because it never asks the kernel for weights it does not return.
"""

from __future__ import annotations

from collections.abc import Collection

import torch


def captured_layers(method, prune_layer: int, recomputable: Collection[int]) -> range:
    """The layers whose attention rows ``method`` reads: none without ``queries``, else its ``capture_layers``
    layers just below ``prune_layer``. ``ValueError`` (at wrap, before any work) for more than lie there, or for a
    layer outside ``recomputable`` (the adapter's layers whose rows can be recomputed from their own input)."""
    if method.queries is None:
        return range(0)
    if not 1 <= method.capture_layers <= prune_layer:
        raise ValueError(
            f"method {method.name!r} asks for the attention of {method.capture_layers} layers below "
            f"prune_layer={prune_layer}; there are 1 to {prune_layer}"
        )
    layers = range(prune_layer - method.capture_layers, prune_layer)
    reusing = [i for i in layers if i not in recomputable]
    if reusing:
        raise ValueError(
            f"method {method.name!r} reads the attention of layers {list(layers)} below prune_layer={prune_layer}, "
            f"but layers {reusing} reuse another layer's keys, so their attention rows cannot be recomputed; "
            "choose a prune_layer whose layers below it compute their own keys"
        )
    return layers


def last_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """``(B,)`` position of each row's last real token (-1 for a row of padding only)."""
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    return torch.where(attention_mask, positions, -1).amax(-1)


def query_positions(
    audio_mask: torch.Tensor, attention_mask: torch.Tensor, mode: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Query token positions ``(B, Q)`` and their validity ``(B, Q)``.

    ``"last"``: each row's last real token. ``"after_audio"``: every real token after the row's last
    audio token (the instruction and the assistant prefix); rows without audio get the last token.
    Invalid slots repeat a valid position so that gathers stay in range.
    """
    batch, seq = audio_mask.shape
    positions = torch.arange(seq, device=audio_mask.device).expand(batch, seq)
    last = last_positions(attention_mask)
    if mode == "last":
        return last[:, None], torch.ones(batch, 1, dtype=torch.bool, device=audio_mask.device)
    if mode != "after_audio":
        raise ValueError(f"query mode must be 'last' or 'after_audio', got {mode!r}")
    last_audio = torch.where(audio_mask, positions, -1).amax(-1)
    wanted = attention_mask & (positions > last_audio[:, None]) & ~audio_mask
    wanted[last_audio < 0] = False
    wanted[torch.arange(batch), last] = True
    width = int(wanted.sum(-1).max())
    # stable sort puts the wanted positions first, in order
    order = torch.sort((~wanted).int(), dim=-1, stable=True).indices[:, :width]
    valid = torch.gather(wanted, 1, order)
    index = torch.where(valid, order, last[:, None])
    return index, valid


def attention_rows(
    query: torch.Tensor,
    key: torch.Tensor,
    query_index: torch.Tensor,
    key_mask: torch.Tensor,
    scaling: float,
    window: int | None = None,
) -> torch.Tensor:
    """Softmax attention ``(B, H, Q, L)`` in float32 of queries ``(B, H, Q, d)`` at positions ``query_index``
    over keys ``(B, H_kv, L, d)``, causal and restricted to ``key_mask`` ``(B, L)`` (and, for a sliding-window
    layer, to the ``window`` positions up to each query); as eager attention computes them (grouped key heads are
    shared by ``H / H_kv`` query heads)."""
    batch, heads, n_query, dim = query.shape
    kv_heads, seq = key.shape[1], key.shape[2]
    grouped = query.reshape(batch, kv_heads, heads // kv_heads * n_query, dim)
    logits = torch.matmul(grouped, key.transpose(-1, -2)).view(batch, heads, n_query, seq) * scaling
    positions = torch.arange(seq, device=query.device)
    allowed = key_mask[:, None, :] & (positions[None, None, :] <= query_index[:, :, None])
    if window is not None:
        allowed &= positions[None, None, :] > query_index[:, :, None] - window
    logits = logits.float().masked_fill(~allowed[:, None], torch.finfo(torch.float32).min)
    return logits.softmax(dim=-1)
