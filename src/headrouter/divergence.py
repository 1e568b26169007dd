"""How far pruning moves a model's answer: the KL divergence of its next-token distribution, pruned from unpruned.

Accuracy on a small or weak model is a coarse measure of a pruning method: most answers are right or wrong either way,
so methods differ by a few items in hundreds. The divergence of the next-token distribution at the end of the prompt
(where the answer begins) from the unpruned model's is what "percent of unpruned" approximates, measured on every item
without labels: 0 when pruning changes nothing the model would say. HeadRouter's fidelity calibration
(:mod:`headrouter.methods.headrouter.fidelity`) weighs heads by it, and ``benchmarks/output_divergence.py`` compares
methods with it.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from headrouter.api import pruning
from headrouter.config import DEFAULT_PRUNE_LAYER
from headrouter.methods import ScoringMethod


def next_token_log_probs(model: nn.Module, inputs: Mapping) -> torch.Tensor:
    """``(B, V)`` float64 log-probabilities of the token after each row's prompt (the last position: rows left-padded,
    as the adapters build them); no cache is built."""
    with torch.inference_mode():
        logits = model(**inputs, use_cache=False).logits[:, -1]
    return logits.double().log_softmax(-1)


def pruned_divergence(
    model: nn.Module,
    inputs: Mapping,
    method: str | ScoringMethod,
    keep_ratio: float,
    reference: torch.Tensor,
    *,
    prune_layer: int = DEFAULT_PRUNE_LAYER,
) -> torch.Tensor:
    """``(B,)`` KL(unpruned || pruned) in nats of the next token, pruning ``model`` (unwrapped, or wrapped: it is left
    as it was) to ``keep_ratio`` from ``prune_layer`` with ``method``; ``reference`` is
    :func:`next_token_log_probs` of the unpruned model on the same ``inputs``."""
    with pruning(model, keep_ratio, prune_layer=prune_layer, method=method):
        pruned = next_token_log_probs(model, inputs)
    if pruned.shape != reference.shape:
        raise ValueError(f"reference has shape {tuple(reference.shape)}; the model gives {tuple(pruned.shape)}")
    return (reference.exp() * (reference - pruned)).sum(-1)
