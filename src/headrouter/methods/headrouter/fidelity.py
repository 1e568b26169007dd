"""Head weights by consequence: how well each head's own choice of audio tokens keeps the unpruned model's answer.

The attention profile (:mod:`.calibration`) calls a head important when it looks at audio and looks at few tokens.
That need not make its choice of tokens a good one: a head can fix on a few tokens that do not carry the answer.
This pass measures the choice itself. Per calibration sample, per measured layer ``l`` and head ``h``, the audio
tokens are pruned at layer ``l + 1`` keeping the ones head ``h`` alone ranks highest (its last-query attention,
position-debiased as HeadRouter scores), and the pruned model's next-token distribution at the end of the prompt is
compared with the unpruned one (KL divergence). A head's *gain* is how much lower its divergence is than that of a
random choice of the same number of tokens, averaged over the keep ratios and over the task type's samples; heads
with no gain get weight 0 and the rest are weighted by their gain (:func:`~.stats.sparse_weights`).

No labels are needed: the target is the model's own unpruned prediction, the quantity the paper's "percent of
unpruned" measures. It costs ``1 + len(keep_ratios) * (heads * len(layers) + 1)`` forward passes per sample.
"""

from __future__ import annotations

import logging
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


def check_weighting(weighting: str, layers: Sequence[int], keep_ratios: Sequence[float], num_layers: int) -> None:
    """``ValueError`` unless ``weighting`` is known and, for ``"fidelity"``, its layers and ratios are valid."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {list(WEIGHTINGS)}, got {weighting!r}")
    if weighting == "fidelity":
        check_fidelity(layers, keep_ratios, num_layers)


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
    """Per task type and measured layer, ``(H,)`` mean gain of each head over a random choice (in nats of KL).

    ``inputs``: ``(model inputs, task type)`` pairs, each a batch of one with the model's dtype and device.
    ``table`` supplies the positional priors the heads' scores are divided by (an attention-weighted table of the
    same samples). ``seed`` seeds the random choice every head is compared with.
    """
    forward = adapter.forward_module
    num_heads = table.num_heads
    sums: dict[str, dict[int, torch.Tensor]] = {}
    counts: dict[str, int] = {}
    scorers = {
        layer: [HeadRouterMethod(table=single_head(table, layer, h), task=table.tasks[0]) for h in range(num_heads)]
        for layer in layers
    }
    chance = RandomSelection(seed=seed)
    for batch, task_type in tqdm(inputs, desc="head fidelity", unit="sample", disable=not progress):
        reference = next_token_log_probs(forward, batch)
        gains = sums.setdefault(task_type, {layer: torch.zeros(num_heads, dtype=torch.float64) for layer in layers})
        for layer in layers:
            for ratio in keep_ratios:
                floor = _divergence(forward, batch, chance, ratio, reference, layer + 1)
                for head, scorer in enumerate(scorers[layer]):
                    gains[layer][head] += floor - _divergence(forward, batch, scorer, ratio, reference, layer + 1)
        counts[task_type] = counts.get(task_type, 0) + 1
    return {
        task_type: {layer: total_gain / (counts[task_type] * len(keep_ratios)) for layer, total_gain in per.items()}
        for task_type, per in sums.items()
    }


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
) -> HeadTable:
    """``table`` with the weights of ``layers`` from each head's gain (:func:`head_gains`), the gains and
    the settings recorded in its metadata (``meta["fidelity"]``)."""
    gains = head_gains(adapter, inputs, table, layers, keep_ratios, progress=progress)
    weights = {task_type: tensor.clone() for task_type, tensor in table.weights.items()}
    for task_type, per_layer in gains.items():
        for layer, gain in per_layer.items():
            weights[task_type][layer] = stats.sparse_weights(gain.clamp_min(0), coverage).float()
            logger.info("fidelity gains, %s, layer %d: %s", task_type, layer, [round(g, 4) for g in gain.tolist()])
    meta = dict(table.meta)
    meta["fidelity"] = {
        "layers": list(layers),
        "keep_ratios": list(keep_ratios),
        "gains": {t: {str(layer): gain.tolist() for layer, gain in per.items()} for t, per in gains.items()},
    }
    return replace(table, weights=weights, meta=meta)
