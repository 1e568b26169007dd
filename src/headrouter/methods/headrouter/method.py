"""HeadRouter: routed per-head weights on position-debiased attention (He et al., 2026)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from headrouter.methods.base import ScoringContext, ScoringMethod, register_method
from headrouter.methods.headrouter import stats
from headrouter.methods.headrouter.table import HeadTable

AUTO = "auto"
ROUTE_ON = ("behaviour", "text", "both")
TEXT_MATCH = ("nearest", "mean")


@register_method
@dataclass(repr=False)
class HeadRouterMethod(ScoringMethod):
    """Score audio tokens with the head weights of the input's task type.

    With a calibrated ``table`` (a :class:`~.table.HeadTable` or its directory): the input's
    head-behaviour vector at layer K-1 (audio mass and selectivity per head, from the instruction tokens'
    rows) is compared with each task type's profile and the task types' tables are mixed softly
    (``task="auto"``), or one task type's table is used (``task="semantic"``, ...: ``task`` names a task *type*
    of the table, as the table's keys do). Token score = sum over heads of routed weight x the last token's
    attention divided by the head's positional prior. Without a table, each input's own per-head selectivity
    serves as weights (and nothing is debiased). ``wrap(model, ...)`` finds a table when none is named
    (:mod:`.discovery`); a method built directly uses exactly the table it is given.

    What routing compares (``route_on``): ``"behaviour"`` (default) the head-behaviour vector (the paper's
    router), ``"text"`` the instruction-text feature (the text tokens' mean direction in the hidden states entering
    layer K, :func:`~.stats.text_features`; needs a table with text profiles), ``"both"`` the mean of the two
    distances. ``text_match``: ``"nearest"`` (default) compares the text with every calibration sample's own
    feature, a task type's distance being that of its nearest sample (needs a table calibrated with per-sample
    features); ``"mean"`` with the mean feature of each task type.

    Which layers vote (``layers``, n): layer K-1 alone (1, the default and the paper's choice), or each of the n
    layers K-n..K-1 with its own head weights (the same routed mixture of task types) and positional prior, the
    token score being the mean of the layers' scores.

    Ablations, one switch each: ``debias=False``; ``task=<task type>`` (routing off); ``uniform_heads=True``
    (head weights off); ``route_on=...``; ``layers=n``. With ``uniform_heads=True, debias=False`` (and one layer)
    the choice equals ``method="fastv"``.
    """

    name = "headrouter"
    queries = "after_audio"
    uses_table = True
    reports = ("task_mixture",)
    table: HeadTable | str | Path | None = None
    task: str = AUTO
    temperature: float = 0.1
    debias: bool = True
    uniform_heads: bool = False
    route_on: str = "behaviour"
    text_match: str = "nearest"
    layers: int = 1

    @property
    def capture_layers(self) -> int:
        """The engine captures the attention of the ``layers`` layers below K."""
        return self.layers

    def __post_init__(self) -> None:
        if isinstance(self.table, (str, Path)):
            self.table = HeadTable.from_pretrained(self.table)
        if self.table is not None and not isinstance(self.table, HeadTable):
            raise TypeError(f"table must be a HeadTable, a directory or None, got {type(self.table).__name__}")
        known = [AUTO] + (self.table.tasks if self.table is not None else [])
        if self.task not in known and (self.table is not None or not isinstance(self.task, str)):
            raise ValueError(f"task must be one of {known} ('auto' or a task type of the table), got {self.task!r}")
        if self.route_on not in ROUTE_ON:
            raise ValueError(f"route_on must be one of {list(ROUTE_ON)}, got {self.route_on!r}")
        if self.route_on in ("text", "both") and self.table is not None and not self.table.has_text:
            raise ValueError(
                f"route_on={self.route_on!r} needs a table with instruction-text profiles; this one has none "
                "(calibrated before they existed): recalibrate it (headrouter calibrate) or use route_on='behaviour'"
            )
        if self.text_match not in TEXT_MATCH:
            raise ValueError(f"text_match must be one of {list(TEXT_MATCH)}, got {self.text_match!r}")
        uses_text = self.route_on in ("text", "both") and self.table is not None
        if uses_text and self.text_match == "nearest" and not self.table.has_text_examples:
            raise ValueError(
                f"route_on={self.route_on!r} with text_match='nearest' needs a table with each calibration sample's "
                "instruction-text feature; this one has only the means: recalibrate it (headrouter calibrate) or use "
                "text_match='mean'"
            )
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if isinstance(self.layers, bool) or not isinstance(self.layers, int) or self.layers < 1:
            raise ValueError(f"layers must be an integer >= 1 (how many layers below K score), got {self.layers!r}")

    def with_table(self, table: HeadTable) -> HeadRouterMethod:
        """This method's settings with ``table`` as its head table."""
        return replace(self, table=table)

    def bind(self, adapter, prune_layer: int) -> None:
        if self.layers > prune_layer:
            raise ValueError(
                f"layers={self.layers} asks for more layers than lie below prune_layer={prune_layer}: at most "
                f"{prune_layer}"
            )
        if self.table is None and self.task != AUTO:  # a task type named before the table is handed over
            raise ValueError(f"task={self.task!r} names a task type of a head table, and no table was given")
        if self.table is None and self.route_on in ("text", "both"):
            raise ValueError(
                f"route_on={self.route_on!r} compares with a head table's profiles, and no table was given"
            )
        if self.table is not None:
            self.table.check_shape(adapter.num_layers, adapter.num_heads)
            self.table.check_config(adapter.text_config, type(adapter.model).__name__)

    def score(self, ctx: ScoringContext) -> torch.Tensor:
        attentions = ctx.layer_attention or {ctx.layer - 1: ctx.attention}
        mixture = None if self.uniform_heads or self.table is None else self._mixture(ctx)
        scores = [self._layer_score(ctx, layer, attentions[layer], mixture) for layer in sorted(attentions)]
        return scores[0] if len(scores) == 1 else torch.stack(scores).mean(0)

    def _layer_score(
        self, ctx: ScoringContext, layer: int, attention: torch.Tensor, mixture: torch.Tensor | None
    ) -> torch.Tensor:
        """``(B, L)`` one layer's token scores: its heads' last-query attention, debiased, weighted."""
        rows = torch.arange(attention.shape[0], device=attention.device)
        last = attention[rows, :, ctx.last_query]  # (B, H, L)
        if self.debias and self.table is not None:
            # (H, bins); a bin that no calibration query saw (beyond a sliding window) has prior 0: no expectation to
            # divide by, so its scores stay as they are (not 0 / 0, nor boosted without bound)
            prior = self.table.prior[layer].to(last.device)
            prior = torch.where(prior > 0, prior, torch.ones_like(prior))
            bins = stats.relative_bins(ctx.audio_mask, self.table.bins)  # (B, L)
            last = last / prior[:, bins].permute(1, 0, 2)  # (H, B, L) -> (B, H, L)
        if self.uniform_heads:
            return last.mean(dim=1)
        if mixture is None:  # no table: the input's own per-head selectivity at this layer
            weights = stats.query_mean(stats.selectivity(attention, ctx.audio_mask), ctx.query_mask)
            weights = weights / weights.sum(-1, keepdim=True).clamp_min(1e-12)
        else:
            weights = self.table.mixed_weights(mixture, layer).to(attention.device)
        return (weights[..., None] * last).sum(dim=1)

    def _mixture(self, ctx: ScoringContext) -> torch.Tensor:
        """``(B, T)`` each input's mixture of the table's task types (routed at layer K-1, or the one named), also
        written to ``ctx.details``."""
        if self.task == AUTO:
            vector = text = None
            if self.route_on in ("behaviour", "both"):
                vector = stats.behaviour(ctx.attention, ctx.audio_mask, ctx.query_mask).cpu()
            if self.route_on in ("text", "both"):
                text = stats.text_features(ctx.hidden_states, ctx.query_index, ctx.query_mask).cpu()
            mixture = self.table.route(vector, ctx.layer - 1, self.temperature, text, self.text_match)
        else:
            mixture = torch.zeros(ctx.attention.shape[0], len(self.table.tasks))
            mixture[:, self.table.tasks.index(self.task)] = 1.0
        for detail, row, has_audio in zip(ctx.details, mixture.tolist(), ctx.audio_mask.any(-1).tolist(), strict=True):
            if has_audio:
                detail["task_mixture"] = dict(zip(self.table.tasks, row, strict=True))
        return mixture
