"""Calibration: profile per-head audio attention over a small labelled set and build a HeadTable.

One forward pass per sample, no generation. Hooks on every decoder layer's attention recompute just the
attention rows of the query tokens (the text after the audio, and the last token) from the layer's own
post-rotary queries and keys, reduce them at once to per-head statistics, and add those to running sums:
memory stays flat in the number of samples, and 3 samples or 300 take the same code path. Hooks on every decoder
layer's input add the instruction-text feature (the query tokens' mean direction in the residual stream) the
router can compare with each task type's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence

import torch
from torch import nn
from tqdm.auto import tqdm

from headrouter.adapters import ModelAdapter, adapter_for
from headrouter.audio import load_audio, require_audio_tokens
from headrouter.config import DEFAULT_PRUNE_LAYER
from headrouter.engine.capture import attention_rows, query_positions
from headrouter.methods.headrouter import fidelity, stats
from headrouter.methods.headrouter.samples import CalibrationSample, check_tasks
from headrouter.methods.headrouter.table import HeadTable

logger = logging.getLogger("headrouter")

DEFAULT_TASKS = ("semantic", "acoustic")
"""The task types :func:`calibrate` declares by default (like its ``tasks=``, the name says tasks, the values are
task types)."""


class HeadStatistics:
    """Running sums of per-head statistics per task type; turns into a :class:`HeadTable`."""

    def __init__(self, num_layers: int, num_heads: int, bins: int, layers: Sequence[int] | None = None) -> None:
        self.shape = (num_layers, num_heads)
        self.bins = bins
        self.layers = sorted(range(num_layers) if layers is None else layers)
        """The layers profiled; the others (a family's KV-reusing layers) keep zero statistics: uniform weights."""
        self.counts: dict[str, int] = {}
        self._behaviour: dict[str, torch.Tensor] = {}  # task type -> (layers, 2H) sum
        self._importance: dict[str, torch.Tensor] = {}  # task type -> (layers, H) sum of mass * selectivity
        self._all = torch.zeros(num_layers, 2 * num_heads, dtype=torch.float64)
        self._all_sq = torch.zeros_like(self._all)
        self._prior = torch.zeros(num_layers, num_heads, bins, dtype=torch.float64)
        self._prior_counts = torch.zeros(num_layers, bins, dtype=torch.float64)
        self._pending: dict[int, torch.Tensor] = {}
        self._text: dict[str, torch.Tensor] = {}  # task type -> (layers, D) sum of instruction-text features
        self._text_all: torch.Tensor | None = None  # (layers, D) sums over all samples, and of squares
        self._text_all_sq: torch.Tensor | None = None
        self._pending_text: dict[int, torch.Tensor] = {}
        self._text_examples: list[tuple[str, torch.Tensor]] = []  # (task type, (layers, D)) per sample

    def add_layer(
        self, layer: int, rows: torch.Tensor, audio_mask: torch.Tensor, query_mask: torch.Tensor, last: torch.Tensor
    ) -> None:
        """Record one layer's rows ``(1, H, Q, L)`` of the current sample (``last``: index of the last token's row)."""
        rows = rows.double()
        self._pending[layer] = stats.behaviour(rows, audio_mask, query_mask)[0]
        last_rows = rows[torch.arange(rows.shape[0]), :, last]  # (1, H, L)
        sums, counts = stats.positional_profile(last_rows, audio_mask, self.bins)
        self._prior[layer] += sums
        self._prior_counts[layer] += counts

    def add_text(self, layer: int, features: torch.Tensor) -> None:
        """Record the current sample's instruction-text feature ``(1, D)`` at the input of ``layer``
        (:func:`~.stats.text_features`)."""
        self._pending_text[layer] = features[0].double()

    def finish_sample(self, task_type: str) -> None:
        """Close the current sample: its per-layer behaviour vectors count towards ``task_type``."""
        if sorted(self._pending) != self.layers:
            raise RuntimeError(f"captured layers {sorted(self._pending)} of {self.layers} for this sample")
        heads = self.shape[1]
        zeros = torch.zeros(self.shape[0], 2 * heads, dtype=torch.float64)
        vector = zeros.clone()  # (layers, 2H)
        for layer, behaviour in self._pending.items():
            vector[layer] = behaviour
        self._pending.clear()
        self._behaviour[task_type] = self._behaviour.get(task_type, zeros) + vector
        importance = vector[:, :heads] * vector[:, heads:]
        self._importance[task_type] = self._importance.get(task_type, zeros[:, :heads]) + importance
        self._all += vector
        self._all_sq += vector**2
        self.counts[task_type] = self.counts.get(task_type, 0) + 1
        if self._pending_text:
            self._finish_text(task_type)

    def _finish_text(self, task_type: str) -> None:
        width = next(iter(self._pending_text.values())).numel()
        text = torch.zeros(self.shape[0], width, dtype=torch.float64)
        for layer, features in self._pending_text.items():
            text[layer] = features
        self._pending_text.clear()
        if self._text_all is None:
            self._text_all, self._text_all_sq = torch.zeros_like(text), torch.zeros_like(text)
        self._text[task_type] = self._text.get(task_type, torch.zeros_like(text)) + text
        self._text_all += text
        self._text_all_sq += text**2
        self._text_examples.append((task_type, text.half()))

    def to_table(self, task_types: Sequence[str], coverage: float, meta: dict) -> HeadTable:
        """Weights, profiles and priors from the sums (formulas in docs/method.md)."""
        total = sum(self.counts.values())
        heads = self.shape[1]
        mean, std = _mean_std(self._all, self._all_sq, total)
        profiles = {t: (self._behaviour[t] / self.counts[t]).float() for t in task_types}
        prior = self._prior / self._prior_counts[:, None, :].clamp_min(1)
        prior = torch.where(self._prior_counts[:, None, :] > 0, prior, torch.ones_like(prior))
        text = {}
        if self._text_all is not None:
            text_mean, text_std = _mean_std(self._text_all, self._text_all_sq, total)
            text = {"text_mean": text_mean.float(), "text_std": text_std.float()}
            text["text_profiles"] = {t: (self._text[t] / self.counts[t]).float() for t in task_types}
            text["text_examples"] = torch.stack([features for _, features in self._text_examples])
            text["text_example_types"] = torch.tensor([list(task_types).index(t) for t, _ in self._text_examples])
        return HeadTable(
            weights={
                t: stats.sparse_weights(self._importance[t] / self.counts[t], coverage).float() for t in task_types
            },
            profiles=profiles,
            mass={t: p[:, :heads] for t, p in profiles.items()},
            selectivity={t: p[:, heads:] for t, p in profiles.items()},
            prior=prior.float(),
            feature_mean=mean.float(),
            feature_std=std.float(),
            meta=meta,
            **text,
        )


def _mean_std(sums: torch.Tensor, squares: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation (floored at 1e-6, so standardising never divides by 0) from running sums."""
    mean = sums / count
    return mean, (squares / count - mean**2).clamp_min(0).sqrt().clamp_min(1e-6)


class _Profiler:
    """Hooks that feed :class:`HeadStatistics` during one forward pass per sample."""

    def __init__(self, adapter: ModelAdapter, statistics: HeadStatistics) -> None:
        self.adapter, self.statistics = adapter, statistics
        self.state: dict = {}
        self.handles = [adapter.entry.register_forward_pre_hook(self._on_entry, with_kwargs=True)]
        for i in statistics.layers:
            attention = adapter.attention(adapter.layers[i])
            self.handles.append(attention.register_forward_pre_hook(self._layer_hook(i), with_kwargs=True))
        for i, layer in enumerate(adapter.layers):  # every layer's input: any of them can be K
            self.handles.append(layer.register_forward_pre_hook(self._text_hook(i), with_kwargs=True))

    def _on_entry(self, module, args, kwargs):
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        padding = kwargs.get("attention_mask")
        padding = torch.ones_like(input_ids, dtype=torch.bool) if padding is None else padding.bool()
        audio = self.adapter.audio_mask(input_ids) & padding
        index, valid = query_positions(audio, padding, "after_audio")
        self.state = {
            "audio": audio,
            "padding": padding,
            "index": index,
            "valid": valid,
            "last": valid.shape[1] - 1 - valid.flip(-1).long().argmax(-1),
        }

    def _layer_hook(self, layer: int):
        def hook(module, args, kwargs):
            s = self.state
            query, key = self.adapter.project_query_key(
                module, kwargs["hidden_states"], kwargs["position_embeddings"], s["index"]
            )
            scaling, window = self.adapter.attention_scaling(module), self.adapter.sliding_window(layer)
            rows = attention_rows(query, key, s["index"], s["padding"], scaling, window)
            self.statistics.add_layer(layer, rows, s["audio"], s["valid"], s["last"])

        return hook

    def _text_hook(self, layer: int):
        def hook(module, args, kwargs):
            hidden = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
            states = self.adapter.layer_states(layer, hidden)
            self.statistics.add_text(layer, stats.text_features(states, self.state["index"], self.state["valid"]))

        return hook

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def calibrate(
    model: nn.Module,
    processor,
    samples: Sequence[CalibrationSample] | Iterable[CalibrationSample],
    *,
    tasks: Sequence[str] = DEFAULT_TASKS,
    bins: int = 16,
    coverage: float = 0.8,
    system_prompt: str | None = None,
    truncate_audio: bool = False,
    weighting: str = "attention",
    fidelity_layers: Sequence[int] = (DEFAULT_PRUNE_LAYER - 1,),
    fidelity_keep_ratios: Sequence[float] = fidelity.DEFAULT_KEEP_RATIOS,
    fidelity_z: float = fidelity.DEFAULT_Z,
    progress: bool = True,
) -> HeadTable:
    """Profile ``model``'s heads on ``samples`` and return a :class:`HeadTable` with one entry per task type.

    ``tasks`` declares the task types (any names; ``semantic`` and ``acoustic`` by default; the parameter keeps its
    short name, its values are task types): every sample's ``task`` must be one of them and every one needs at
    least one usable sample. A sample whose audio cannot be loaded or decoded (:func:`headrouter.audio.load_audio`),
    or is too short to make a single audio token, is logged as a warning by path with the reason and skipped; the
    table's metadata counts them (``failed_samples``).
    Audio is heard whole, as evaluation hears it, unless ``truncate_audio`` (cut at the feature extractor's
    ``chunk_length``, as the processor does by default): the positional prior should come from the lengths the
    table will see.

    ``weighting``: ``"attention"`` (default, the paper's profile) weighs each head by its audio mass x selectivity;
    ``"fidelity"`` then re-weighs the heads of ``fidelity_layers`` (layer K-1 for the default K) by how well each
    head's own choice of tokens keeps the unpruned model's next-token distribution at ``fidelity_keep_ratios``
    (:mod:`.fidelity`; the other layers keep attention weights). It needs no labels and costs about
    ``len(fidelity_keep_ratios) * (heads + 1)`` more forward passes per sample and measured layer. A head is weighted
    only where its mean gain over a random choice exceeds 0 by ``fidelity_z`` standard errors (0: any gain); a layer
    with no such head gets uniform weights.
    """
    samples = list(samples)
    tasks = list(tasks)
    check_tasks(samples, tasks)
    _check_settings(bins, coverage)
    adapter = adapter_for(model)
    fidelity.check_weighting(weighting, fidelity_layers, fidelity_keep_ratios, adapter.num_layers, fidelity_z)
    rate = adapter.sampling_rate(processor)
    failed: list[str] = []

    def prepared(desc: str = "calibrating") -> Iterator[tuple[Mapping, str]]:
        for sample in tqdm(samples, desc=desc, unit="sample", disable=not progress):
            if sample.name in failed:
                continue
            try:
                wav = load_audio(sample.audio, rate, source_rate=sample.sampling_rate)
                inputs = adapter.build_inputs(
                    processor, [wav], [sample.prompt], system_prompt=system_prompt, truncate_audio=truncate_audio
                )
                require_audio_tokens(adapter.audio_mask(inputs["input_ids"]), wav.size / rate)
            except Exception as error:  # a clip that fails to load, decode or tokenize must not stop the run
                failed.append(sample.name)
                logger.warning("calibration: skipping %s: %s: %s", sample.name, type(error).__name__, error)
                continue
            yield inputs, sample.task

    statistics = _profile(adapter, prepared(), bins)
    if not statistics.counts:
        raise ValueError(f"all {len(samples)} calibration samples failed to load or run; see the log for each path")
    empty = [t for t in tasks if statistics.counts.get(t, 0) == 0]
    if empty:
        raise ValueError(f"every calibration sample of task type {empty} failed; see the log for each path")
    settings = {
        "bins": bins,
        "coverage": coverage,
        "system_prompt": system_prompt,
        "truncate_audio": truncate_audio,
        "weighting": weighting,
    }
    table = _table(adapter, statistics, tasks, coverage, len(failed), settings)
    if weighting == "fidelity":
        inputs = ((_on_model(adapter, batch), task_type) for batch, task_type in prepared("head fidelity"))
        table = fidelity.reweigh(
            adapter, table, inputs, fidelity_layers, fidelity_keep_ratios, coverage, progress=False, z=fidelity_z
        )
    return table


def calibrate_inputs(
    model: nn.Module,
    inputs: Iterable[tuple[Mapping, str]],
    *,
    tasks: Sequence[str] = DEFAULT_TASKS,
    bins: int = 16,
    coverage: float = 0.8,
    weighting: str = "attention",
    fidelity_layers: Sequence[int] = (DEFAULT_PRUNE_LAYER - 1,),
    fidelity_keep_ratios: Sequence[float] = fidelity.DEFAULT_KEEP_RATIOS,
    fidelity_z: float = fidelity.DEFAULT_Z,
) -> HeadTable:
    """As :func:`calibrate`, from ready model inputs: ``(inputs, task type)`` pairs, each ``inputs`` a batch of one
    as the processor makes it (``input_ids``, ``attention_mask`` and the audio features). For prompts made without a
    processor, such as the benchmark's own; every task type of ``tasks`` needs at least one pair."""
    tasks = list(tasks)
    _check_settings(bins, coverage)
    adapter = adapter_for(model)
    fidelity.check_weighting(weighting, fidelity_layers, fidelity_keep_ratios, adapter.num_layers, fidelity_z)
    pairs = list(inputs)
    unknown = sorted({task for _, task in pairs} - set(tasks))
    missing = [t for t in tasks if t not in {task for _, task in pairs}]
    if unknown or missing:
        raise ValueError(f"inputs: task types {unknown} are not in tasks {tasks}, or {missing} have no inputs")
    statistics = _profile(adapter, pairs, bins)
    settings = {"bins": bins, "coverage": coverage, "weighting": weighting}
    table = _table(adapter, statistics, tasks, coverage, 0, settings)
    if weighting == "fidelity":
        on_model = [(_on_model(adapter, batch), task_type) for batch, task_type in pairs]
        table = fidelity.reweigh(
            adapter, table, on_model, fidelity_layers, fidelity_keep_ratios, coverage, progress=True, z=fidelity_z
        )
    return table


def _check_settings(bins: int, coverage: float) -> None:
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    if not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive int, got {bins!r}")


def _on_model(adapter: ModelAdapter, batch: Mapping) -> dict:
    """``batch`` on the model's device; floating tensors (audio features) in the model's dtype."""
    forward = adapter.forward_module
    return {
        k: v.to(device=forward.device, dtype=forward.dtype if v.is_floating_point() else v.dtype)
        if isinstance(v, torch.Tensor)
        else v
        for k, v in batch.items()
    }


def _profile(adapter: ModelAdapter, inputs: Iterable[tuple[Mapping, str]], bins: int) -> HeadStatistics:
    """One forward pass per ``(inputs, task type)`` with the profiling hooks in place; the statistics they summed."""
    statistics = HeadStatistics(
        adapter.num_layers, adapter.text_config.num_attention_heads, bins, adapter.recomputable_layers()
    )
    if len(statistics.layers) < adapter.num_layers:
        skipped = sorted(set(range(adapter.num_layers)) - set(statistics.layers))
        logger.info("calibration: layers %s reuse other layers' keys and are not profiled (uniform weights)", skipped)
    forward = adapter.forward_module
    profiler = _Profiler(adapter, statistics)
    try:
        for batch, task_type in inputs:
            with torch.no_grad():
                forward(**_on_model(adapter, batch), use_cache=False)
            statistics.finish_sample(task_type)
    finally:
        profiler.remove()
    return statistics


def _table(
    adapter: ModelAdapter, statistics: HeadStatistics, tasks: list[str], coverage: float, failed: int, settings: dict
) -> HeadTable:
    counts = {task_type: statistics.counts[task_type] for task_type in tasks}
    logger.info("calibrated on %s samples per task type; %d failed", counts, failed)
    meta = HeadTable.metadata(type(adapter.model).__name__, adapter.text_config, counts, failed, settings)
    return statistics.to_table(tasks, coverage, meta)
