"""The masked reference: dropped audio tokens stay in the sequence but are masked out of every layer >= K.

Built independently of the engine (plain hooks on an unwrapped model, dense 4-D masks, sliding windows over the
input's positions as the model applies them), so that "pruned == masked" is a real check of the engine's gathering,
positions, masks per attention kind and cache. It finds the model's
parts through its adapter, so it serves every supported family.

>>> headrouter.wrap(model, keep_ratio=0.3)
>>> pruned = model(**inputs).logits
>>> keep = keep_mask_from_pruner(model.headrouter, inputs["input_ids"].shape[1])
>>> headrouter.unwrap(model)
>>> with masked_reference(model, keep, layer=2):
...     reference = model(**inputs).logits   # equals ``pruned`` at the kept positions
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import partial

import torch
from torch import nn

from headrouter.adapters import adapter_for
from headrouter.engine.cache import cache_argument
from headrouter.engine.pruner import Pruner


def keep_mask_from_pruner(pruner: Pruner, seq_len: int) -> torch.Tensor:
    """``(B, L)`` bool: which input positions the pruned layers saw in the pruner's last prefill."""
    keep = torch.zeros(pruner.kept_index.shape[0], seq_len, dtype=torch.bool)
    rows = torch.arange(keep.shape[0])[:, None].expand_as(pruner.kept_index)
    keep[rows[pruner.kept_valid], pruner.kept_index[pruner.kept_valid]] = True
    return keep


@contextmanager
def masked_reference(model: nn.Module, keep: torch.Tensor, layer: int):
    """Run the unwrapped ``model`` with keys outside ``keep`` ``(B, L)`` masked in layers >= ``layer``; positions
    beyond ``keep``'s width (tokens after the prefill) are kept. Each layer keeps its kind's own pattern: causal, and
    within the model's window for a sliding-window layer, over the keys its cache holds (as the model sizes its own
    masks: from the cache before the forward, on the first layer of that kind)."""
    adapter = adapter_for(model)
    eager = adapter.text_config._attn_implementation == "eager"
    first_of_kind: dict[str, int] = {}
    for i in range(adapter.num_layers):
        first_of_kind.setdefault(adapter.layer_type(i), i)
    state = {}

    def on_entry(module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        q_len = ids.shape[1] if ids is not None else kwargs["inputs_embeds"].shape[1]
        cache = cache_argument(kwargs)
        past = cache.get_seq_length() if cache is not None else 0
        padding = kwargs.get("attention_mask")
        if padding is None:  # no padding: every token of the cache and of this call is real
            padding = torch.ones(ids.shape[0], past + q_len, dtype=torch.bool)
        state["padding"] = padding.bool()
        state["keys"] = {  # (kv_length, kv_offset) of the keys each kind's layers attend over
            kind: cache.get_mask_sizes(q_len, i) if cache is not None else (past + q_len, 0)
            for kind, i in first_of_kind.items()
        }

    def on_layer(index, module, args, kwargs):
        hidden = args[0]
        q_len = hidden.shape[adapter.hidden_token_axis]
        padding = state["padding"]
        total = padding.shape[1]
        kv_len, kv_offset = state["keys"][adapter.layer_type(index)]
        keys = padding & torch.cat([keep, torch.ones(keep.shape[0], total - keep.shape[1], dtype=torch.bool)], 1)
        key_positions = torch.arange(kv_len) + kv_offset
        query_positions = torch.arange(q_len) + total - q_len
        allowed = key_positions[None, :] <= query_positions[:, None]
        window = adapter.sliding_window(index)
        if window is not None:
            allowed &= query_positions[:, None] - key_positions[None, :] < window
        allowed = keys[:, key_positions][:, None, None, :] & allowed[None, None]
        if eager:
            mask = torch.zeros(allowed.shape, dtype=hidden.dtype).masked_fill(~allowed, torch.finfo(hidden.dtype).min)
        else:
            mask = allowed
        kwargs["attention_mask"] = mask
        return args, kwargs

    handles = [adapter.entry.register_forward_pre_hook(on_entry, with_kwargs=True)]
    for index in range(layer, adapter.num_layers):
        hook = partial(on_layer, index)
        handles.append(adapter.layers[index].register_forward_pre_hook(hook, with_kwargs=True))
    try:
        yield
    finally:
        for h in handles:
            h.remove()
