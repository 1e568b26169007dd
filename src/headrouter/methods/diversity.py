"""Diverse selection: a method's top-k with each pick discounted by its likeness to the tokens already picked.

Attention scores pile up on a few stretches of audio: the best-scored tokens are often near-copies of one another,
and a clip's other events get no token. Maximal marginal relevance (Carbonell and Goldstein, 1998) trades a token's
relevance against its redundancy with what is already kept; at weight 1 it is the max-min diversity of DivPrune (Alvar
et al., 2025), seeded by the best-scored token. DART (Wen et al., 2025) also keeps the tokens least like a few pivots;
here every kept token is a pivot and the method's own scores say which token comes first.

Per sample, over its ``n`` audio tokens (several clips form one set): relevance ``r = 1 - rank / (n - 1)`` (rank 0 the
best score, ties to the earlier token; ``r = 1`` for a lone token), similarity the cosine of the hidden states entering
layer K. Greedy, ``k`` times: pick the not yet picked token of largest ``(1 - w) r_i - w max_j cos(h_i, h_j)`` over
the picked tokens ``j`` (the max counts as 0 before the first pick); ties go to the higher relevance.

The picks are taken in rounds (:func:`_greedy`), each one ``n x D`` product with the round's picks and one small
product among its candidates (never an ``n x n`` matrix). On the proving ground's features a round takes ~50 picks
(28-45 rounds for 1,500-2,100 picks).
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

BLOCK = 64
"""Candidates per round of :func:`_greedy`."""
GATHER_CHUNK = 512
"""Rows gathered at a time into the float32 features (:func:`_unit_rows`)."""


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
        if k >= len(positions):  # every token is kept: nothing to choose
            keep[row, positions] = True
            continue
        if k == 0:
            continue
        ranked = positions[torch.sort(scores[row, positions], descending=True, stable=True).indices]
        keep[row, ranked[_greedy(_unit_rows(hidden_states[row], ranked), k, weight)]] = True
    return keep


def _unit_rows(states: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``states[rows]`` as float32 rows scaled to unit norm: the features the greedy compares, made as one float32
    copy (gathered in chunks, normalised in place) rather than a gathered copy, a float32 copy and a normalised one."""
    features = torch.empty(len(rows), states.shape[-1], dtype=torch.float32, device=states.device)
    for start in range(0, len(rows), GATHER_CHUNK):
        features[start : start + GATHER_CHUNK] = states[rows[start : start + GATHER_CHUNK]]
    return features.div_(features.norm(dim=-1, keepdim=True).clamp_min(1e-12))


def _greedy(features: torch.Tensor, k: int, weight: float, block: int = BLOCK) -> torch.Tensor:
    """``(n,)`` bool: the ``k`` tokens picked from ``features`` ``(n, D)`` (float32 rows of unit norm, given
    best-scored first; :func:`_unit_rows`) by the rule of the module docstring; ``block`` >= 1 (1: one pick per
    round, the rule step by step).

    The greedy rule's picks, taken in rounds instead of one pass over all tokens per pick. The first pick is token 0
    (the largest relevance, no redundancy yet); after it redundancy only grows, so a token's gain only falls. A round
    orders the tokens by the rule (gain, then index), takes the first ``block`` as candidates and the next one as a
    bound that no other token can pass, now or later (none where the candidates are all that is left). It picks
    among the candidates by the rule, their likeness to each other from one ``block x block`` product, for as long as
    the best candidate still comes before the bound; then one ``n x picks`` product brings every redundancy up to
    date. Every round picks at least its first candidate. The picks are those of one pick per round up to float
    rounding: the candidates' likeness comes from another product than the one that updates redundancy, so two
    gains equal to the last bit may be ordered differently.
    """
    n = features.shape[0]
    relevance = 1.0 - torch.arange(n, dtype=torch.float32, device=features.device) / max(n - 1, 1)
    base = (1.0 - weight) * relevance
    picked = torch.zeros(n, dtype=torch.bool, device=features.device)
    picked[0] = True
    redundancy = features @ features[0]
    done = 1
    while done < k:
        gain = (base - weight * redundancy).masked_fill(picked, float("-inf"))
        size = min(block, n - done)
        order = torch.sort(gain, descending=True, stable=True).indices[: size + 1]  # ties: the lower index first
        bound = (float(gain[order[size]]), int(order[size])) if n - done > size else (float("-inf"), -1)
        candidates = torch.sort(order[:size]).values
        likeness = (features[candidates] @ features[candidates].T).cpu().numpy()
        values = (gain[candidates], base[candidates])
        picks = _round(candidates.cpu().numpy(), *(x.cpu().numpy() for x in values), likeness, weight, bound, k - done)
        new = candidates[picks]
        picked[new] = True
        redundancy = torch.maximum(redundancy, (features @ features[new].T).amax(-1))
        done += len(picks)
    return picked


def _round(
    index: np.ndarray,
    gain: np.ndarray,
    base: np.ndarray,
    likeness: np.ndarray,
    weight: float,
    bound: tuple[float, int],
    most: int,
) -> list[int]:
    """The positions in ``index`` (candidates' token indices, ascending) one round of :func:`_greedy` picks, in order:
    at most ``most``, each the best remaining gain (the first of equal ones) while it comes before ``bound`` (a gain
    and a token index) by the rule; a pick lowers the others' gains to ``base - weight * likeness`` with it where that
    is lower."""
    gain = gain.copy()
    picks: list[int] = []
    while len(picks) < min(most, len(gain)):
        best = int(np.argmax(gain))
        if not (gain[best] > bound[0] or (gain[best] == bound[0] and index[best] < bound[1])):
            break
        picks.append(best)
        gain = np.minimum(gain, base - weight * likeness[:, best])
        gain[picks] = -np.inf
    return picks
