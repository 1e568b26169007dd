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

Left out, because they are ``O(n·h)`` and well under 1% of a layer at these widths: biases, RMSNorm,
rotary embedding, SiLU and residual adds, the embedding lookup, the final norm and the LM head (the
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
    num_layers: int

    @classmethod
    def from_config(cls, text_config) -> DecoderShape:
        """From a transformers text (decoder) config such as ``thinker.config.text_config``."""
        heads = int(text_config.num_attention_heads)
        head_dim = getattr(text_config, "head_dim", None) or text_config.hidden_size // heads
        return cls(
            hidden_size=int(text_config.hidden_size),
            num_heads=heads,
            num_kv_heads=int(text_config.num_key_value_heads),
            head_dim=int(head_dim),
            intermediate_size=int(text_config.intermediate_size),
            num_layers=int(text_config.num_hidden_layers),
        )

    def to_dict(self) -> dict:
        return asdict(self)


def linear_flops(shape: DecoderShape, tokens: int) -> int:
    """FLOPs of one layer's projections and MLP for ``tokens`` tokens."""
    h, d = shape.hidden_size, shape.head_dim
    per_token = h * shape.num_heads * d + 2 * h * shape.num_kv_heads * d + shape.num_heads * d * h
    per_token += 3 * h * shape.intermediate_size
    return 2 * tokens * per_token


def attention_flops(shape: DecoderShape, tokens: int) -> int:
    """FLOPs of one layer's causal attention (``Q·Kᵀ`` and ``A·V``) over ``tokens`` tokens."""
    return 2 * shape.num_heads * shape.head_dim * tokens * (tokens + 1)


def layer_flops(shape: DecoderShape, tokens: int) -> int:
    """FLOPs of one decoder layer's causal prefill of ``tokens`` tokens."""
    return linear_flops(shape, tokens) + attention_flops(shape, tokens)


def prefill_flops(shape: DecoderShape, tokens: int, kept_tokens: int, prune_layer: int) -> int:
    """FLOPs of all decoder layers: ``prune_layer`` layers on ``tokens``, the rest on ``kept_tokens``."""
    _check_split(shape, prune_layer)
    rest = shape.num_layers - prune_layer
    return prune_layer * layer_flops(shape, tokens) + rest * layer_flops(shape, kept_tokens)


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
