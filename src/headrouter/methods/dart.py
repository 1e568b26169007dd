"""DART: keep the audio tokens that duplicate a few pivot tokens least (Wen et al., 2025).

"Stop Looking for Important Tokens in Multimodal Language Models: Duplication Matters More" argues that
pruning by importance keeps near-copies of the same content; DART instead picks a few pivot tokens by the
norm of their keys and keeps the tokens least similar (cosine) to the pivots. The rule and the choices
made for audio are in docs/method.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from headrouter.methods.base import ScoringContext, ScoringMethod, register_method

_NORMS = ("key", "hidden")


@register_method
@dataclass(repr=False)
class DART(ScoringMethod):
    """Pivots by key L1 norm, then per pivot the audio tokens least cosine-similar to it in hidden-state space.

    Per sample: the ``audio_pivots`` audio tokens and the ``text_pivots`` text tokens after the audio with the
    largest L1 norm of their keys at layer K (``pivot_norm="key"``; ``"hidden"`` uses the hidden states' L1
    norm instead) are the pivots. The audio pivots are kept; the rest of the sample's budget is split as evenly
    as possible over all pivots, and each pivot in turn keeps the not yet chosen audio tokens least
    cosine-similar to it (hidden states at layer K's input). Text pivots only steer the choice.
    """

    name = "dart"
    queries = None
    reports = ("pivots", "text_pivots")
    audio_pivots: int = 4
    text_pivots: int = 4
    pivot_norm: Literal["key", "hidden"] = "key"

    def __post_init__(self) -> None:
        for setting, low in (("audio_pivots", 1), ("text_pivots", 0)):
            value = getattr(self, setting)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{setting} must be an int >= {low}, got {value!r}")
        if self.pivot_norm not in _NORMS:
            raise ValueError(f"pivot_norm must be one of {_NORMS}, got {self.pivot_norm!r}")

    def bind(self, adapter, prune_layer: int) -> None:
        if self.pivot_norm == "key" and adapter.key_projection(prune_layer) is None:
            raise ValueError(
                f"dart with pivot_norm='key' needs layer {prune_layer}'s input_layernorm and its attention's "
                "k_proj; this model has no such modules: use pivot_norm='hidden'"
            )

    def select(self, ctx: ScoringContext, counts: torch.Tensor) -> torch.Tensor:
        audio_mask = ctx.audio_mask
        batch, seq = audio_mask.shape
        positions = torch.arange(seq, device=audio_mask.device).expand(batch, seq)
        last_audio = torch.where(audio_mask, positions, -1).amax(-1, keepdim=True)
        text_mask = ctx.attention_mask & ~audio_mask & (positions > last_audio) & (last_audio >= 0)
        norms = self._norms(ctx, audio_mask | text_mask)

        keep = ~audio_mask
        for row in range(batch):
            count = int(counts[row])
            if count == 0:
                continue
            audio = audio_mask[row].nonzero().squeeze(-1)
            text = text_mask[row].nonzero().squeeze(-1)
            audio_pivots = _largest(norms[row, audio], min(self.audio_pivots, count))
            text_pivots = _largest(norms[row, text], min(self.text_pivots, text.numel()))
            chosen = _least_duplicated(
                ctx.hidden_states[row], audio, audio_pivots, text[text_pivots], count - audio_pivots.numel()
            )
            keep[row, audio[audio_pivots]] = True
            keep[row, audio[chosen]] = True
            if row < len(ctx.details):
                ctx.details[row]["pivots"] = sorted(audio[audio_pivots].tolist())
                ctx.details[row]["text_pivots"] = sorted(text[text_pivots].tolist())
        return keep

    def _norms(self, ctx: ScoringContext, mask: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` float32 L1 norm of the pivot feature (keys or hidden states) at the ``mask`` positions, else 0."""
        states = ctx.hidden_states[mask]
        if self.pivot_norm == "key":
            if ctx.project_keys is None:
                raise ValueError("dart with pivot_norm='key' needs ctx.project_keys (layer K's key projection)")
            states = ctx.project_keys(states)
        norms = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device)
        norms[mask] = states.float().abs().sum(-1)
        return norms


def _largest(values: torch.Tensor, count: int) -> torch.Tensor:
    """Indices of the ``count`` largest ``values``, largest first; ties go to the earlier index."""
    return torch.sort(values, descending=True, stable=True).indices[:count]


def _least_duplicated(
    hidden: torch.Tensor, audio: torch.Tensor, audio_pivots: torch.Tensor, text_pivots: torch.Tensor, budget: int
) -> torch.Tensor:
    """Indices into ``audio`` of ``budget`` non-pivot audio tokens, chosen pivot by pivot.

    Pivots take turns in order (audio pivots, then text pivots, each by decreasing norm); pivot ``j`` gets
    ``budget // P`` tokens, the first ``budget % P`` one more, and keeps the remaining audio tokens of lowest
    cosine similarity to itself (ties to the earlier token).
    """
    pivots = torch.cat([audio[audio_pivots], text_pivots])
    if budget == 0:
        return audio_pivots[:0]
    candidates = F.normalize(hidden[audio].float(), dim=-1)
    similarity = F.normalize(hidden[pivots].float(), dim=-1) @ candidates.T  # (P, n)
    taken = torch.zeros(audio.numel(), dtype=torch.bool, device=audio.device)
    taken[audio_pivots] = True
    chosen = []
    share, extra = divmod(budget, pivots.numel())
    for j in range(pivots.numel()):
        quota = share + (j < extra)
        if quota == 0:
            break
        order = torch.sort(similarity[j].masked_fill(taken, float("inf")), stable=True).indices[:quota]
        taken[order] = True
        chosen.append(order)
    return torch.cat(chosen)
