"""Pruner: attaches pruning to a model, keeps the per-call state, and records what was kept.

The patch surface is a handful of PyTorch forward pre-hooks, all removed by :meth:`Pruner.detach`:

- on the model's forward module: refuse, before any work, a prefill that pruning would make wrong (``labels``;
  what the adapter's family cannot prune);
- on the model's entry module (sees ``input_ids`` and the padding mask once per forward): find audio
  tokens at prefill, or extend the pruned layers' padding mask on a later step of a pruned cache;
- on the attention of layer K-1 and the layers below it that the method asks for (prefill only): capture rows;
- on layer K: score, select and gather the hidden states once per prefill, and record on the cache what continuing
  it needs (:mod:`headrouter.engine.cache`); build the pruned layers' masks once per step, one per attention kind;
- on every layer >= K: hand it the mask of its kind and, at prefill, its per-token inputs for the kept tokens (rotary
  embeddings, positions, what else the adapter names), each distinct tensor gathered once.

Nothing else about the model changes: not its attention implementation, config or weights.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import partial

import torch
from torch import nn

from headrouter.adapters import ModelAdapter, adapter_for
from headrouter.config import PruningConfig
from headrouter.engine.cache import PrunedCacheState, cache_argument, mark_pruned, pruned_state, unmark
from headrouter.engine.capture import attention_rows, captured_layers, last_positions, query_positions
from headrouter.engine.selection import check_keep_mask, keep_counts, pack_layout
from headrouter.engine.surgery import (
    TokenGather,
    check_sliding_window_support,
    keyword_call,
    pruned_attention_mask,
)
from headrouter.methods import ScoringContext, ScoringMethod, get_method

logger = logging.getLogger("headrouter")


@dataclass
class SampleRecord:
    """What one prefill did to one sample of the batch."""

    sample: int
    audio_tokens_before: int
    audio_tokens_after: int
    kept_positions: list[int]
    """Positions (in the input sequence) of the audio tokens that layers >= ``layer`` saw. For audio that arrived
    after prefill (a later turn, kept whole), positions count every token since the start of the conversation."""
    layer: int
    method: str
    scoring_seconds: float
    """Wall time of capture + scoring + selection for the whole batch this sample was in."""
    details: dict = field(default_factory=dict)
    """What the method reported for this sample (Pruner: the task mixture)."""
    pruned: bool = True
    """False for audio that arrived after prefill (a later turn): headrouter prunes at prefill only, so it was kept."""


@dataclass
class _Pass:
    """State of one forward call; dropped when the call ends."""

    prefill: bool
    padding_mask: torch.Tensor  # (B, L) bool for prefill; (B, kv_len) of the pruned layers for a step
    cache_state: PrunedCacheState | None = None  # the pruned cache this forward continues or creates
    positions: torch.Tensor | None = None  # a step: (B, kv_len) original position of each slot of the pruned layers
    audio_mask: torch.Tensor | None = None
    prunable: torch.Tensor | None = None  # audio tokens the method may drop: all but a row's last real token
    query_index: torch.Tensor | None = None
    query_mask: torch.Tensor | None = None
    attention: dict = field(default_factory=dict)  # prefill: captured attention rows by layer index
    scoring_seconds: float = 0.0
    gather: TokenGather | None = None  # prefill: the kept tokens of each pruned layer's per-token inputs
    masks: dict = field(default_factory=dict)  # the pruned layers' attention mask, by attention kind


class Pruner:
    """Prunes audio tokens inside a model's decoder during prefill; see :func:`headrouter.wrap`."""

    def __init__(self, model: nn.Module, config: PruningConfig, method: ScoringMethod | None = None) -> None:
        self.adapter: ModelAdapter = adapter_for(model)
        config.check_layers(self.adapter.num_layers)
        self._kinds = self._pruned_kinds(config.prune_layer)
        self.config = config
        self.method = method if method is not None else get_method(config.method, **config.method_kwargs)
        self.method.bind(self.adapter, config.prune_layer)
        self._captured = captured_layers(self.method, config.prune_layer, set(self.adapter.recomputable_layers()))
        self.adapter.on_wrap()
        self.model = model
        self.records: list[SampleRecord] = []
        self.kept_index: torch.Tensor | None = None
        """``(B, L')`` input position of each slot the pruned layers saw in the last prefill."""
        self.kept_valid: torch.Tensor | None = None
        """``(B, L')`` False for filler slots of rows that kept fewer tokens than the longest row."""
        self._handles: list = []
        self._pass: _Pass | None = None

    def _pruned_kinds(self, k: int) -> dict[str, tuple[int, int | None]]:
        """The attention kinds of layers >= ``k``: each kind's first such layer (its cache sizes the kind's mask) and
        window. ``ValueError`` for layers the engine cannot prune before, or a KV-sharing group ``k`` would split."""
        adapter = self.adapter
        kinds: dict[str, tuple[int, int | None]] = {}
        for i in range(k, adapter.num_layers):
            kinds.setdefault(adapter.layer_type(i), (i, adapter.sliding_window(i)))
        later = range(k, adapter.num_layers)
        other = [i for i in later if adapter.layer_type(i) not in ("full_attention", "sliding_attention")]
        if other:
            raise ValueError(
                f"layers {other} of this model use {adapter.layer_type(other[0])}; headrouter prunes only before "
                "full-attention and sliding-window layers: choose a prune_layer after them"
            )
        windowless = [
            i for i in later if adapter.layer_type(i) == "sliding_attention" and not adapter.sliding_window(i)
        ]
        if windowless:
            raise ValueError(
                f"layers {windowless} of this model use sliding_attention, but its decoder config names no "
                "sliding_window: fix the config, or choose a prune_layer after them"
            )
        for group in adapter.kv_sharing_groups():
            if min(group) < k <= max(group):
                raise ValueError(
                    f"prune_layer={k} would split a KV-sharing group: layers {sorted(group)[1:]} reuse the keys and "
                    f"values of layer {min(group)}, and layers before and from {k} hold different tokens; choose a "
                    f"prune_layer <= {min(group)} or > {max(group)}"
                )
        if "sliding_attention" in kinds:
            check_sliding_window_support(adapter.text_config._attn_implementation)
        return kinds

    # ------------------------------------------------------------------ attach / detach

    @property
    def keep_ratio(self) -> float:
        return self.config.keep_ratio

    @property
    def prune_layer(self) -> int:
        return self.config.prune_layer

    def attach(self) -> Pruner:
        """Install the hooks. Called by :func:`headrouter.wrap`."""
        if self._handles:
            raise RuntimeError("this Pruner is already attached")
        adapter, k = self.adapter, self.prune_layer
        hook = nn.Module.register_forward_pre_hook
        self._handles.append(hook(adapter.forward_module, self._on_call, with_kwargs=True))
        self._handles.append(hook(adapter.entry, self._on_entry, with_kwargs=True))
        self._handles.append(adapter.entry.register_forward_hook(self._on_exit, always_call=True))
        for layer in self._captured:
            capture = adapter.attention(adapter.layers[layer])
            self._handles.append(hook(capture, partial(self._on_capture, layer), with_kwargs=True))
        self._handles.append(hook(adapter.layers[k], self._on_prune_layer, with_kwargs=True))
        for index in range(k + 1, adapter.num_layers):
            self._handles.append(hook(adapter.layers[index], partial(self._on_pruned_layer, index), with_kwargs=True))
        return self

    def detach(self) -> None:
        """Remove every hook and drop all per-call state; the model behaves as if never wrapped."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._pass = None

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    # ------------------------------------------------------------------ hooks

    def _on_call(self, module, args, kwargs):
        cache = cache_argument(kwargs)
        if cache is not None and cache.get_seq_length() > 0:
            return  # a later step: nothing more to check
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        if input_ids is None or not bool(self.adapter.audio_mask(input_ids).any()):
            return  # nothing will be pruned
        if kwargs.get("labels") is not None:
            raise ValueError(
                "headrouter cannot compute a loss from labels while pruning: the pruned forward's logits cover the "
                "kept tokens only. Compute it from the logits over the kept slots (model.headrouter.kept_index maps "
                "each slot to its input position, kept_valid marks real slots), or unwrap the model first"
            )
        self.adapter.check_call(kwargs)

    def _on_entry(self, module, args, kwargs):
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        cache = cache_argument(kwargs)
        padding = kwargs.get("attention_mask")
        if getattr(cache, "is_compileable", False):
            raise TypeError(
                f"headrouter needs a cache growing per layer (the default DynamicCache), not {type(cache).__name__}: "
                "pruned layers hold fewer tokens than the others"
            )
        if padding is not None and (not isinstance(padding, torch.Tensor) or padding.dim() != 2):
            raise TypeError("headrouter needs attention_mask as a 2-D (batch, seq) padding mask or None")
        past = cache.get_seq_length() if cache is not None else 0
        if past == 0:
            unmark(cache)  # an emptied cache that an earlier prefill pruned starts over
            self._begin_prefill(input_ids, padding)
        else:
            length = input_ids.shape[1] if input_ids is not None else kwargs["inputs_embeds"].shape[1]
            self._begin_step(input_ids, padding, cache, past, length)

    def _on_exit(self, module, args, output):
        if self._pass is not None and self._pass.cache_state is not None:
            self._pass.cache_state.open = False
        self._pass = None

    def _begin_prefill(self, input_ids, padding) -> None:
        if input_ids is None:
            raise ValueError(
                "headrouter finds audio tokens in input_ids, but this call passed only inputs_embeds; pass input_ids "
                "(the processor's output) or unwrap the model with headrouter.unwrap(model)"
            )
        padding = torch.ones_like(input_ids, dtype=torch.bool) if padding is None else padding.bool()
        audio = self.adapter.audio_mask(input_ids) & padding
        n_audio = audio.sum(-1)
        self.kept_index = self.kept_valid = None
        if not bool(n_audio.any()):
            self._pass = None
            self.records = [self._record(b, 0, [], 0.0) for b in range(input_ids.shape[0])]
            return
        # a row's last real token is never dropped: logits[:, -1] and decoding read its state
        prunable = audio.clone()
        prunable[torch.arange(audio.shape[0], device=audio.device), last_positions(padding)] = False
        self._pass = _Pass(prefill=True, padding_mask=padding, audio_mask=audio, prunable=prunable)
        if self.method.queries is not None:
            self._pass.query_index, self._pass.query_mask = query_positions(audio, padding, self.method.queries)

    def _begin_step(self, input_ids, padding, cache, past: int, length: int) -> None:
        self._pass = None
        if input_ids is not None and length > 1:  # decode steps bring one token, never new audio
            self._record_late_audio(input_ids, padding, past)
        state = pruned_state(cache)
        if state is None:
            if cache.get_seq_length(self.prune_layer) != past:
                raise RuntimeError(
                    f"this cache's layers >= {self.prune_layer} hold fewer tokens than its first layers, but it "
                    "carries no record of a headrouter prefill (was it rebuilt, e.g. from legacy tuples?); start "
                    "again from the prompt"
                )
            return  # an unpruned cache (no audio in its prefill): nothing to adjust
        if state.prune_layer != self.prune_layer:
            raise RuntimeError(
                f"this cache was pruned at layer {state.prune_layer}, but the model now prunes at layer "
                f"{self.prune_layer}; continue it with prune_layer={state.prune_layer}, or start again from the prompt"
            )
        if padding is None:
            padding = torch.ones(
                state.padding_mask.shape[0], past + length, dtype=torch.bool, device=state.padding_mask.device
            )
        new = padding[:, state.input_length :].to(state.padding_mask.device, torch.bool)
        later = state.input_length + torch.arange(new.shape[1], device=state.positions.device)
        state.open = True
        self._pass = _Pass(
            prefill=False,
            padding_mask=torch.cat([state.padding_mask, new], dim=-1),
            cache_state=state,
            positions=torch.cat([state.positions, later.expand(state.positions.shape[0], -1)], dim=-1),
        )

    def _record_late_audio(self, input_ids, padding, past: int) -> None:
        """Audio in a later turn is kept whole (pruning happens at prefill only): say so, and record it."""
        audio = self.adapter.audio_mask(input_ids)
        if padding is not None:
            audio &= padding[:, -input_ids.shape[1] :].bool()
        if not bool(audio.any()):
            return
        logger.warning(
            "headrouter prunes audio at prefill only: the %s audio tokens of this later turn are kept whole",
            audio.sum(-1).tolist(),
        )
        self.records = [
            SampleRecord(b, len(kept), len(kept), kept, self.prune_layer, self.method.name, 0.0, pruned=False)
            for b, kept in enumerate((row.nonzero().squeeze(-1) + past).tolist() for row in audio)
        ]

    def _on_capture(self, layer: int, module, args, kwargs):
        state = self._pass
        if state is None or not state.prefill:
            return None
        start = time.perf_counter()
        with torch.no_grad():
            query, key = self.adapter.project_query_key(
                module, kwargs["hidden_states"], kwargs["position_embeddings"], state.query_index
            )
            scaling = self.adapter.attention_scaling(module)
            window = self.adapter.sliding_window(layer)
            state.attention[layer] = attention_rows(query, key, state.query_index, state.padding_mask, scaling, window)
        state.scoring_seconds += time.perf_counter() - start
        return None

    def _on_prune_layer(self, module, args, kwargs):
        state = self._pass
        if state is None:
            return None
        args, kwargs = keyword_call(module, args, kwargs)
        if state.prefill:
            hidden = self._prune(args[0], kwargs)
        else:
            hidden = args[0]
            state.masks = self._masks(hidden, state.padding_mask, state.positions, cache_argument(kwargs))
        return self._layer_call(self.prune_layer, hidden, kwargs)

    def _on_pruned_layer(self, index: int, module, args, kwargs):
        if self._pass is None:
            return None
        args, kwargs = keyword_call(module, args, kwargs)
        return self._layer_call(index, args[0], kwargs)

    def _layer_call(self, index: int, hidden: torch.Tensor, kwargs: dict) -> tuple[tuple, dict]:
        """Layer ``index``'s call on the kept tokens: its per-token inputs gathered (prefill), the mask of its kind."""
        state = self._pass
        if state.gather is not None:
            kwargs = self.adapter.gather_layer_arguments(index, kwargs, state.gather)
        kwargs["attention_mask"] = state.masks[self.adapter.layer_type(index)]
        return (hidden,), kwargs

    def _masks(self, hidden: torch.Tensor, padding: torch.Tensor, positions: torch.Tensor, cache) -> dict:
        """The pruned layers' attention mask per attention kind, each sized on the cache of its kind's first layer."""
        batch_states = hidden[(0,) * (self.adapter.hidden_token_axis - 1)]  # (B, L, ...): what the builders read
        config = self.adapter.text_config
        return {
            kind: pruned_attention_mask(config, batch_states, padding, cache, layer, window, positions)
            for kind, (layer, window) in self._kinds.items()
        }

    # ------------------------------------------------------------------ the prefill cut

    def _prune(self, hidden_states: torch.Tensor, kwargs: dict) -> torch.Tensor:
        state = self._pass
        start = time.perf_counter()
        with torch.no_grad():
            ctx = ScoringContext(
                audio_mask=state.prunable,
                attention_mask=state.padding_mask,
                hidden_states=self.adapter.layer_states(self.prune_layer, hidden_states),
                layer=self.prune_layer,
                query_index=state.query_index,
                query_mask=state.query_mask,
                attention=state.attention.get(self.prune_layer - 1),
                layer_attention=state.attention,
                details=[{} for _ in range(state.padding_mask.shape[0])],
                project_keys=self.adapter.key_projection(self.prune_layer),
            )
            pinned = (state.audio_mask & ~state.prunable).sum(-1)
            counts = keep_counts(state.audio_mask.sum(-1), self.keep_ratio) - pinned
            keep = self.method.select(ctx, counts)
            check_keep_mask(keep, state.prunable, counts, self.method.name)
            index, valid = pack_layout(keep)
        state.scoring_seconds += time.perf_counter() - start
        state.attention = {}

        # kept tokens keep their text positions; flash attention reads them only to find packed sequences, whose
        # starts (the smallest position) are text and stay
        state.gather = TokenGather(index)
        hidden = state.gather(hidden_states, self.adapter.hidden_token_axis)
        padding = torch.gather(state.padding_mask, 1, index) & valid
        cache = cache_argument(kwargs)  # the cache this forward fills, also one transformers made inside it
        state.masks = self._masks(hidden, padding, index, cache)
        if cache is not None:
            length = state.padding_mask.shape[1]
            state.cache_state = PrunedCacheState(padding, length, self.prune_layer, index, open=True)
            mark_pruned(cache, state.cache_state)
        self.kept_index, self.kept_valid = index, valid
        kept_audio = keep & state.audio_mask
        self.records = [
            self._record(
                b,
                int(state.audio_mask[b].sum()),
                kept_audio[b].nonzero().squeeze(-1).tolist(),
                state.scoring_seconds,
                ctx.details[b],
            )
            for b in range(keep.shape[0])
        ]
        logger.debug(
            "pruned %s audio tokens to %s at layer %d with %s in %.2f ms",
            state.audio_mask.sum(-1).tolist(),
            (counts + pinned).tolist(),
            self.prune_layer,
            self.method.name,
            state.scoring_seconds * 1e3,
        )
        return hidden

    def _record(self, sample: int, before: int, kept: list[int], seconds: float, details=None) -> SampleRecord:
        return SampleRecord(sample, before, len(kept), kept, self.prune_layer, self.method.name, seconds, details or {})

    def __repr__(self) -> str:
        return (
            f"Pruner(keep_ratio={self.keep_ratio}, prune_layer={self.prune_layer}, method={self.method!r}, "
            f"attached={self.attached})"
        )
