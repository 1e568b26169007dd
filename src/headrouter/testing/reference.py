"""The masked reference: dropped audio tokens stay in the sequence but are masked out of every layer >= K.

Built independently of the engine (plain hooks on an unwrapped model, dense 4-D masks), so that
"pruned == masked" is a real check of the engine's gathering, positions, masks and cache. It finds the model's
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
    beyond ``keep``'s width (tokens after the prefill) are kept."""
    adapter = adapter_for(model)
    eager = adapter.text_config._attn_implementation == "eager"
    state = {}

    def on_entry(module, args, kwargs):
        padding = kwargs.get("attention_mask")
        if padding is None:  # no padding: every token of the cache and of this call is real
            cache = cache_argument(kwargs)
            past = cache.get_seq_length() if cache is not None else 0
            ids = kwargs.get("input_ids", args[0] if args else None)
            padding = torch.ones(ids.shape[0], past + ids.shape[1], dtype=torch.bool)
        state["padding"] = padding.bool()

    def on_layer(module, args, kwargs):
        hidden = args[0]
        q_len = hidden.shape[1]
        padding = state["padding"]
        kv_len = padding.shape[1]
        past = kv_len - q_len
        keys = padding & torch.cat([keep, torch.ones(keep.shape[0], kv_len - keep.shape[1], dtype=torch.bool)], 1)
        causal = torch.arange(kv_len)[None, :] <= (torch.arange(q_len) + past)[:, None]
        allowed = keys[:, None, None, :] & causal[None, None]
        if eager:
            mask = torch.zeros(allowed.shape, dtype=hidden.dtype).masked_fill(~allowed, torch.finfo(hidden.dtype).min)
        else:
            mask = allowed
        kwargs["attention_mask"] = mask
        return args, kwargs

    handles = [adapter.entry.register_forward_pre_hook(on_entry, with_kwargs=True)]
    for block in adapter.layers[layer:]:
        handles.append(block.register_forward_pre_hook(on_layer, with_kwargs=True))
    try:
        yield
    finally:
        for h in handles:
            h.remove()
