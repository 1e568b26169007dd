"""Analytic FLOPs and KV-cache bytes of a decoder whose layers ``>= K`` see only the kept tokens.

The benchmark compares measured speed-ups with what the removed tokens could save at best. For one
decoder layer of hidden size ``h``, ``H`` query heads, ``H_kv`` key/value heads of width ``d`` and MLP
width ``I``, a causal prefill of ``n`` tokens costs (a multiply-add counts as 2 FLOPs)::

    linear(n)    = 2 n (h·H·d  +  2·h·H_kv·d  +  H·d·h  +  3·h·I)        q, k, v, o projections; gate, up, down
    attention(n) = 2 · 2 · H · d · n(n+1)/2  =  2 H d n (n+1)             Q·Kᵀ and A·V over the causal triangle
    layer(n)     = linear(n) + attention(n)

and a prefill of ``n`` tokens pruned to ``n'`` at layer ``K`` of an ``N``-layer decoder costs::

    prefill(n, n') = K · layer(n) + (N - K) · layer(n')
    ideal speed-up = prefill(n, n) / prefill(n, n')

A mixture-of-experts MLP counts the experts each token runs: ``I`` is the active width, ``top_k`` times the expert
width (plus a shared expert's, where the family has one). A sliding-window layer of window ``W`` attends to at most
``W`` keys per query, so its attention counts ``2 · 2 · H · d · Σ_{i=1..n} min(i, W)`` (after pruning, ``n'`` kept
tokens with the same bound: windows count original positions, so kept tokens see at most as many keys).

Left out, because they are ``O(n·h)`` and well under 1% of a layer at these widths: a mixture's router (``h·E``),
biases, RMSNorm, rotary embedding, SiLU and residual adds, the embedding lookup, the final norm and the LM head (the
benchmark's vocabulary is small), and the scoring step itself (``O(H·Q·n·d)`` for ``Q`` query tokens).
The ideal is what the counted FLOPs allow; a kernel that runs attention at a lower FLOP rate than
matrix products (as CPU attention kernels do) can beat it, since attention shrinks quadratically.

The KV cache after prefill holds keys and values of ``H_kv`` heads of width ``d`` per token and layer::

    kv_bytes = 2 · batch · H_kv · d · itemsize · (K · n + (N - K) · n')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class DecoderShape:
    """The widths of a decoder that the FLOP and byte counts need."""

    hidden_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    """The MLP width each token runs through: a mixture's ``top_k`` expert widths, plus its shared expert's."""
    num_layers: int
    sliding_window: int | None = None
    sliding_layers: tuple[int, ...] = ()
    """Indices of the layers that attend within ``sliding_window`` only."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "sliding_layers", tuple(self.sliding_layers))  # a list from JSON
        if self.sliding_layers and not self.sliding_window:
            raise ValueError("sliding_layers need a sliding_window")

    @classmethod
    def from_config(cls, text_config) -> DecoderShape:
        """From a transformers text (decoder) config such as ``thinker.config.text_config``."""
        heads = int(text_config.num_attention_heads)
        head_dim = getattr(text_config, "head_dim", None) or text_config.hidden_size // heads
        layers = int(text_config.num_hidden_layers)
        types = getattr(text_config, "layer_types", None) or ["full_attention"] * layers
        sliding = tuple(i for i, kind in enumerate(types[:layers]) if kind == "sliding_attention")
        return cls(
            hidden_size=int(text_config.hidden_size),
            num_heads=heads,
            num_kv_heads=int(text_config.num_key_value_heads),
            head_dim=int(head_dim),
            intermediate_size=_active_mlp_width(text_config),
            num_layers=layers,
            sliding_window=int(text_config.sliding_window) if sliding else None,
            sliding_layers=sliding,
        )

    def to_dict(self) -> dict:
        return asdict(self)


def _active_mlp_width(text_config) -> int:
    """The MLP width one token runs through: dense, or ``top_k`` experts (and a shared expert) of a mixture. A config
    with one width per layer (Gemma-3n's) counts their mean: exact where they are equal, as in the released ones."""
    experts = getattr(text_config, "num_experts_per_tok", None)
    width = getattr(text_config, "moe_intermediate_size", None)
    if not (experts and width):
        dense = text_config.intermediate_size
        if isinstance(dense, (list, tuple)):
            return round(sum(dense) / len(dense))
        return int(dense)
    shared = getattr(text_config, "shared_expert_intermediate_size", None) or 0
    return int(experts) * int(width) + int(shared)


def linear_flops(shape: DecoderShape, tokens: int) -> int:
    """FLOPs of one layer's projections and MLP for ``tokens`` tokens."""
    h, d = shape.hidden_size, shape.head_dim
    per_token = h * shape.num_heads * d + 2 * h * shape.num_kv_heads * d + shape.num_heads * d * h
    per_token += 3 * h * shape.intermediate_size
    return 2 * tokens * per_token


def attention_flops(shape: DecoderShape, tokens: int, window: int | None = None) -> int:
    """FLOPs of one layer's causal attention (``Q·Kᵀ`` and ``A·V``) over ``tokens`` tokens, each query seeing at most
    ``window`` keys if given."""
    pairs = tokens * (tokens + 1) // 2
    if window is not None and tokens > window:
        pairs = window * (window + 1) // 2 + (tokens - window) * window
    return 4 * shape.num_heads * shape.head_dim * pairs


def layer_flops(shape: DecoderShape, tokens: int, layer: int = 0) -> int:
    """FLOPs of decoder layer ``layer``'s causal prefill of ``tokens`` tokens."""
    window = shape.sliding_window if layer in shape.sliding_layers else None
    return linear_flops(shape, tokens) + attention_flops(shape, tokens, window)


def prefill_flops(shape: DecoderShape, tokens: int, kept_tokens: int, prune_layer: int) -> int:
    """FLOPs of all decoder layers: layers before ``prune_layer`` on ``tokens``, the rest on ``kept_tokens``."""
    _check_split(shape, prune_layer)
    return sum(
        layer_flops(shape, tokens if layer < prune_layer else kept_tokens, layer) for layer in range(shape.num_layers)
    )


def ideal_speedup(shape: DecoderShape, tokens: int, kept_tokens: int, prune_layer: int) -> float:
    """The FLOP-ideal prefill speed-up of pruning ``tokens`` to ``kept_tokens`` at layer ``prune_layer``."""
    return prefill_flops(shape, tokens, tokens, prune_layer) / prefill_flops(shape, tokens, kept_tokens, prune_layer)


def kv_cache_bytes(
    shape: DecoderShape, tokens: int, kept_tokens: int, prune_layer: int, itemsize: int, batch: int = 1
) -> int:
    """Bytes of keys and values after prefill: full length in layers ``< prune_layer``, kept length after."""
    _check_split(shape, prune_layer)
    token_layers = prune_layer * tokens + (shape.num_layers - prune_layer) * kept_tokens
    return 2 * batch * shape.num_kv_heads * shape.head_dim * itemsize * token_layers


def _check_split(shape: DecoderShape, prune_layer: int) -> None:
    if not 0 <= prune_layer <= shape.num_layers:
        raise ValueError(f"prune_layer must be in [0, {shape.num_layers}], got {prune_layer}")
