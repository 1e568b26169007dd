"""Diverse selection: a method's top-k with each pick discounted by its likeness to the tokens already picked.

Attention scores pile up on a few stretches of audio: the best-scored tokens are often near-copies of one another,
and a clip's other events get no token. Maximal marginal relevance (Carbonell and Goldstein, 1998) trades a token's
relevance against its redundancy with what is already kept; at weight 1 it is the max-min diversity of DivPrune (Alvar
et al., 2025), seeded by the best-scored token. DART (Wen et al., 2025) also keeps the tokens least like a few pivots;
here every kept token is a pivot and the method's own scores say which token comes first.

Per sample, over its ``n`` audio tokens (several clips form one set): relevance ``r = 1 - rank / (n - 1)`` (rank 0 the
best score, ties to the earlier token; ``r = 1`` for a lone token), similarity the cosine of the hidden states entering
layer K. Greedy, ``k`` times: pick the not yet picked token of largest ``(1 - w) r_i - w max_j cos(h_i, h_j)`` over
the picked tokens ``j`` (the max counts as 0 before the first pick); ties go to the higher relevance. Cost: ``k``
sequential steps, each one ``n x D`` product with the last pick (never an ``n x n`` matrix).
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F


def check_diversity(weight: object) -> float | None:
    """``weight`` as a float in (0, 1], or None (off); ``ValueError`` naming ``diversity`` otherwise."""
    if weight is None:
        return None
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not 0.0 < weight <= 1.0:
        raise ValueError(
            f"diversity must be None (off) or the weight of redundancy against relevance, in (0, 1], got {weight!r}"
        )
    return float(weight)


def diverse_top_k(
    scores: torch.Tensor, audio_mask: torch.Tensor, counts: torch.Tensor, hidden_states: torch.Tensor, weight: float
) -> torch.Tensor:
    """Keep mask ``(B, L)``: every non-audio token, plus ``counts[b]`` audio tokens of row b picked greedily by
    relevance (the rank of ``scores``) against redundancy (cosine of ``hidden_states`` ``(B, L, D)``) with ``weight``
    on redundancy (module docstring)."""
    if scores.shape != audio_mask.shape or hidden_states.shape[:2] != audio_mask.shape:
        raise ValueError(
            f"scores {tuple(scores.shape)}, audio_mask {tuple(audio_mask.shape)} and hidden_states "
            f"{tuple(hidden_states.shape)} must agree on (batch, seq)"
        )
    keep = ~audio_mask
    for row in range(audio_mask.shape[0]):
        positions = audio_mask[row].nonzero().squeeze(-1)
        k = int(counts[row])
        if k == 0:
            continue
        ranked = positions[torch.sort(scores[row, positions], descending=True, stable=True).indices]
        keep[row, ranked[_greedy(hidden_states[row, ranked], k, weight)]] = True
    return keep


def _greedy(states: torch.Tensor, k: int, weight: float) -> torch.Tensor:
    """``(n,)`` bool: the ``k`` tokens picked from ``states`` ``(n, D)``, given best-scored first (module docstring)."""
    n = states.shape[0]
    features = F.normalize(states.float(), dim=-1)
    relevance = 1.0 - torch.arange(n, dtype=torch.float32, device=states.device) / max(n - 1, 1)
    base = (1.0 - weight) * relevance
    redundancy = torch.zeros(n, dtype=torch.float32, device=states.device)
    picked = torch.zeros(n, dtype=torch.bool, device=states.device)
    for step in range(k):
        gain = (base - weight * redundancy).masked_fill(picked, float("-inf"))
        best = int(torch.argmax(gain))  # the first of equal gains: the higher relevance
        picked[best] = True
        likeness = features @ features[best]
        redundancy = likeness if step == 0 else torch.maximum(redundancy, likeness)
    return picked
