"""Head weights by consequence: how well each head's own choice of audio tokens keeps the unpruned model's answer.

The attention profile (:mod:`.calibration`) calls a head important when it looks at audio and looks at few tokens.
That need not make its choice of tokens a good one: a head can fix on a few tokens that do not carry the answer.
This pass measures the choice itself. Per calibration sample, per measured layer ``l`` and head ``h``, the audio
tokens are pruned at layer ``l + 1`` keeping the ones head ``h`` alone ranks highest (its last-query attention,
position-debiased as HeadRouter scores), and the pruned model's next-token distribution at the end of the prompt is
compared with the unpruned one (KL divergence). A head's *gain* is how much lower its divergence is than that of a
random choice of the same number of tokens, averaged over the keep ratios and over the task type's samples. A head
whose mean gain is not above 0 by ``z`` standard errors (over the samples) gets weight 0, the rest are weighted by
their mean gain (:func:`~.stats.sparse_weights`); where no head of a layer clears it, the layer's heads are weighted
uniformly (logged): a head that only seems better than random on a few samples should not take all the weight.

No labels are needed: the target is the model's own unpruned prediction, the quantity the paper's "percent of
unpruned" measures. It costs ``1 + len(keep_ratios) * (heads * len(layers) + 1)`` forward passes per sample.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import torch
from tqdm.auto import tqdm

from headrouter.adapters import ModelAdapter
from headrouter.divergence import next_token_log_probs, pruned_divergence
from headrouter.methods.headrouter import stats
from headrouter.methods.headrouter.method import HeadRouterMethod
from headrouter.methods.headrouter.table import HeadTable
from headrouter.methods.random import RandomSelection

logger = logging.getLogger("headrouter")

WEIGHTINGS = ("attention", "fidelity")
"""How :func:`~.calibration.calibrate` weighs heads: by their attention profile, or by the consequence of their
choice (this module) at the layers it measures."""
DEFAULT_KEEP_RATIOS = (0.5, 0.3, 0.1)
"""The keep ratios a head's choice is tried at: those the proving ground reports below 0.7."""
DEFAULT_Z = 2.0
"""Standard errors by which a head's mean gain must exceed 0 to be weighted (0: any positive mean gain)."""


def check_fidelity(layers: Sequence[int], keep_ratios: Sequence[float], num_layers: int) -> None:
    """``ValueError`` unless ``layers`` are distinct layers that have a layer after them (pruning starts at
    ``layer + 1``) and ``keep_ratios`` are in (0, 1)."""
    layers, keep_ratios = list(layers), list(keep_ratios)
    if not layers or len(set(layers)) != len(layers):
        raise ValueError(f"fidelity_layers must be a non-empty list of distinct layers, got {layers}")
    bad = [layer for layer in layers if isinstance(layer, bool) or not isinstance(layer, int)]
    if bad or not all(0 <= layer < num_layers - 1 for layer in layers):
        raise ValueError(
            f"fidelity_layers must be layers 0..{num_layers - 2} (pruning starts at the layer after), got {layers}"
        )
    if not keep_ratios or not all(isinstance(r, (int, float)) and 0 < r < 1 for r in keep_ratios):
        raise ValueError(f"fidelity_keep_ratios must be a non-empty list of ratios in (0, 1), got {keep_ratios}")


def check_weighting(
    weighting: str, layers: Sequence[int], keep_ratios: Sequence[float], num_layers: int, z: float = DEFAULT_Z
) -> None:
    """``ValueError`` unless ``weighting`` is known and, for ``"fidelity"``, its layers, ratios and ``z`` are valid."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {list(WEIGHTINGS)}, got {weighting!r}")
    if weighting == "fidelity":
        check_fidelity(layers, keep_ratios, num_layers)
        if isinstance(z, bool) or not isinstance(z, (int, float)) or not 0 <= z < float("inf"):
            raise ValueError(f"fidelity_z must be a finite number >= 0 (standard errors), got {z!r}")


def single_head(table: HeadTable, layer: int, head: int) -> HeadTable:
    """``table`` with every task type's weights at ``layer`` put on ``head`` alone (priors unchanged)."""
    weights = {}
    for task_type, tensor in table.weights.items():
        tensor = tensor.clone()
        tensor[layer] = 0.0
        tensor[layer, head] = 1.0
        weights[task_type] = tensor
    return replace(table, weights=weights)


def head_gains(
    adapter: ModelAdapter,
    inputs: Iterable[tuple[Mapping, str]],
    table: HeadTable,
    layers: Sequence[int],
    keep_ratios: Sequence[float] = DEFAULT_KEEP_RATIOS,
    *,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, dict[int, torch.Tensor]]:
    """Per task type and measured layer, ``(N, H)``: each of the type's ``N`` samples' gain of each head over a
    random choice (in nats of KL), averaged over ``keep_ratios``.

    ``inputs``: ``(model inputs, task type)`` pairs, each a batch of one with the model's dtype and device.
    ``table`` supplies the positional priors the heads' scores are divided by (an attention-weighted table of the
    same samples). ``seed`` seeds the random choice every head is compared with.
    """
    forward = adapter.forward_module
    num_heads = table.num_heads
    per_sample: dict[str, dict[int, list[torch.Tensor]]] = {}
    scorers = {
        layer: [HeadRouterMethod(table=single_head(table, layer, h), task=table.tasks[0]) for h in range(num_heads)]
        for layer in layers
    }
    chance = RandomSelection(seed=seed)
    for batch, task_type in tqdm(inputs, desc="head fidelity", unit="sample", disable=not progress):
        reference = next_token_log_probs(forward, batch)
        rows = per_sample.setdefault(task_type, {layer: [] for layer in layers})
        for layer in layers:
            gain = torch.zeros(num_heads, dtype=torch.float64)
            for ratio in keep_ratios:
                floor = _divergence(forward, batch, chance, ratio, reference, layer + 1)
                for head, scorer in enumerate(scorers[layer]):
                    gain[head] += floor - _divergence(forward, batch, scorer, ratio, reference, layer + 1)
            rows[layer].append(gain / len(keep_ratios))
    return {task_type: {layer: torch.stack(r) for layer, r in per.items()} for task_type, per in per_sample.items()}


def significant_gains(gains: torch.Tensor, z: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean, standard error)`` over the samples of ``gains`` ``(N, H)``, the mean set to 0 for every head whose
    mean is not above 0 by ``z`` standard errors. One sample has no standard error: with ``z > 0`` no head clears
    it (infinite error), with ``z = 0`` any positive mean does."""
    mean = gains.mean(0)
    n = gains.shape[0]
    error = gains.std(0) / n**0.5 if n > 1 else torch.full_like(mean, float("inf"))
    clears = mean > (z * error if z > 0 else torch.zeros_like(mean))
    return torch.where(clears, mean, torch.zeros_like(mean)), error


def _divergence(forward, batch: Mapping, scorer, ratio: float, reference: torch.Tensor, prune_layer: int) -> float:
    """KL(unpruned || pruned) of the next token of a batch of one (:func:`~headrouter.divergence.pruned_divergence`)."""
    return float(pruned_divergence(forward, batch, scorer, ratio, reference, prune_layer=prune_layer)[0])


def reweigh(
    adapter: ModelAdapter,
    table: HeadTable,
    inputs: Iterable[tuple[Mapping, str]],
    layers: Sequence[int],
    keep_ratios: Sequence[float],
    coverage: float,
    progress: bool,
    z: float = DEFAULT_Z,
) -> HeadTable:
    """``table`` with the weights of ``layers`` from each head's significant gain (:func:`head_gains`,
    :func:`significant_gains`), the mean gains, their standard errors and the settings recorded in its metadata
    (``meta["fidelity"]``)."""
    gains = head_gains(adapter, inputs, table, layers, keep_ratios, progress=progress)
    weights = {task_type: tensor.clone() for task_type, tensor in table.weights.items()}
    means: dict[str, dict[str, list[float]]] = {}
    errors: dict[str, dict[str, list[float]]] = {}
    for task_type, per_layer in gains.items():
        for layer, samples in per_layer.items():
            kept, error = significant_gains(samples, z)
            weights[task_type][layer] = stats.sparse_weights(kept, coverage).float()
            means.setdefault(task_type, {})[str(layer)] = samples.mean(0).tolist()
            errors.setdefault(task_type, {})[str(layer)] = [e if math.isfinite(e) else None for e in error.tolist()]
            logger.info(
                "fidelity gains, %s, layer %d: %s (standard errors %s)",
                task_type,
                layer,
                [round(g, 4) for g in means[task_type][str(layer)]],
                [round(e, 4) for e in error.tolist()],  # inf: one sample, no error to measure
            )
            if not bool((kept > 0).any()):
                logger.warning(
                    "fidelity: no head of layer %d beats a random choice by %g standard errors for task type %r "
                    "(%d samples): its heads are weighted uniformly",
                    layer,
                    z,
                    task_type,
                    samples.shape[0],
                )
    meta = dict(table.meta)
    meta["fidelity"] = {
        "layers": list(layers),
        "keep_ratios": list(keep_ratios),
        "z": z,
        "gains": means,
        "standard_errors": errors,
    }
    return replace(table, weights=weights, meta=meta)
