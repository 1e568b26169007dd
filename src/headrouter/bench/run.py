"""The benchmark run: every audio length x (unwrapped model, method x keep ratio), warmed up, then timed round-robin;
the results as one JSON-serialisable dict (what each figure is: :mod:`headrouter.bench`)."""

from __future__ import annotations

import datetime
import logging
import statistics
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from headrouter.adapters import adapter_for
from headrouter.api import unwrap, wrap
from headrouter.bench import flops
from headrouter.bench.measure import LoadMeter, ModuleSeconds, cache_bytes, decode_seconds_per_token, output_cache
from headrouter.bench.memory import (
    AttentionInputs,
    PrefillMemoryProbe,
    ScoringMemoryProbe,
    available_memory,
    estimate_prefill_bytes,
    estimate_reference_bytes,
    full_attention_reference,
)
from headrouter.bench.model import TEXT_AFTER, TEXT_BEFORE, load_model, make_inputs
from headrouter.bench.settings import DTYPES, BenchSettings
from headrouter.bench.table import bench_table
from headrouter.bench.targets import evaluate_targets
from headrouter.machine import machine_info
from headrouter.methods import ScoringMethod, get_method
from headrouter.timing import timed_forward

logger = logging.getLogger("headrouter")

SCHEMA = "headrouter-bench/1"

MEMORY_HEADROOM = 0.8
"""Run a size only if its estimated peak fits in this share of the available memory."""


@dataclass
class _Cell:
    method: str  # "none" for the unwrapped model
    keep_ratio: float | None
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    scoring: list[float] = field(default_factory=list)
    tower: list[float] = field(default_factory=list)
    tokens_after: int | None = None
    audio_tokens_after: int | None = None
    kv_bytes: int | None = None
    decode: float | None = None
    memory: dict | None = None
    prefill_peak: int | None = None


def run_benchmark(settings: BenchSettings) -> dict:
    """Run the whole grid; returns every figure as a JSON-serialisable dict (see the module docstring)."""
    began = time.perf_counter()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    model, model_info = load_model(settings)
    adapter = adapter_for(model)
    shape = flops.DecoderShape.from_config(adapter.text_config)
    k = settings.prune_layer
    if not 1 <= k <= shape.num_layers - 1:
        raise ValueError(f"prune layer must be in 1..{shape.num_layers - 1} for {shape.num_layers} layers, got {k}")
    itemsize = DTYPES[settings.dtype].itemsize
    model_info.update(prune_layer=k, layer_split=_layer_split(shape.num_layers, k))
    scorers = {spec: get_method(spec) for spec in settings.methods}
    if any(scorer.uses_table for scorer in scorers.values()):  # time the calibrated path (routing, weights, debias)
        table, model_info["head_table"] = bench_table(model, settings)
        scorers = {spec: s.with_table(table) if s.uses_table else s for spec, s in scorers.items()}
    notes: list[str] = []
    lengths: list[dict] = []
    cells: list[dict] = []

    plan = []
    for n in settings.lengths:
        tokens = n + TEXT_BEFORE + TEXT_AFTER + 2
        need = estimate_prefill_bytes(shape, model_info["vocab_size"], tokens, itemsize)
        free = available_memory(settings.device)
        if free is not None and need > MEMORY_HEADROOM * free:
            note = f"{n} audio tokens skipped: prefill needs ~{need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB available"
            logger.warning("bench: %s", note)
            notes.append(note)
            lengths.append({"audio_tokens": n, "sequence_tokens": tokens, "skipped": True, "note": note})
        else:
            plan.append(n)
    load = LoadMeter()
    load.start()
    per_length = (int(settings.unwrapped) + len(settings.methods) * len(settings.keep_ratios)) * (1 + settings.runs)
    with tqdm(total=per_length * len(plan), desc="bench", unit="pass", disable=not settings.progress) as bar:
        for n in plan:
            summary, rows = _bench_length(model, adapter, shape, scorers, settings, n, itemsize, bar, notes)
            lengths.append(summary)
            cells.extend(rows)
    unwrap(model)
    lengths.sort(key=lambda item: item["audio_tokens"])
    machine = machine_info()
    machine["other_processes_cpu_share"] = load.stop()
    results = {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "model": model_info,
        "settings": settings.to_dict(),
        "prompt": {"text_before": TEXT_BEFORE, "text_after": TEXT_AFTER, "audio_features": settings.with_audio_tower},
        "lengths": lengths,
        "cells": cells,
        "notes": notes,
    }
    results["targets"] = evaluate_targets(results)
    results["total_seconds"] = time.perf_counter() - began
    return results


def _bench_length(model, adapter, shape, scorers, settings, n, itemsize, bar, notes) -> tuple[dict, list[dict]]:
    k = settings.prune_layer
    end_to_end = settings.with_audio_tower
    inputs = make_inputs(model, n, settings.seed, features=end_to_end)
    seq = int(inputs["input_ids"].shape[1])
    cells = [_Cell("none", None)] if settings.unwrapped else []
    cells += [_Cell(m, r) for m in settings.methods for r in settings.keep_ratios]
    free = available_memory(settings.device)
    # end to end, memory is the whole prefill's peak; decoder only, the scoring step's beside the research reference
    want_reference = settings.memory and not end_to_end
    if want_reference and free is not None:
        need = estimate_reference_bytes(shape, seq, itemsize)
        if need > MEMORY_HEADROOM * free:
            note = (
                f"{n} audio tokens: full-attention reference skipped, it needs ~{need / 2**30:.1f} GiB "
                f"({free / 2**30:.1f} GiB available)"
            )
            logger.warning("bench: %s", note)
            notes.append(note)
            want_reference = False

    # warm-up round: generate (decode timing), scoring memory, and the reference's inputs
    reference_inputs = None
    for cell in cells:
        bar.set_description(f"{n} tokens, warm-up {_cell_name(cell)}")
        _apply(model, cell, scorers, k)
        probe = None
        if settings.memory and cell.method != "none" and not end_to_end:
            probe = ScoringMemoryProbe(adapter, k)
        if want_reference and cell.method == "none":
            reference_inputs = AttentionInputs(adapter.attention(adapter.layers[k - 1]))
        prefill_memory = PrefillMemoryProbe(model) if settings.memory and end_to_end else nullcontext()
        try:
            with prefill_memory:
                if settings.decode_tokens:
                    cell.decode = decode_seconds_per_token(model, inputs, settings.decode_tokens)
                else:
                    timed_forward(model, inputs, use_cache=True)
            if isinstance(prefill_memory, PrefillMemoryProbe):
                cell.prefill_peak = prefill_memory.peak_bytes
        finally:
            if probe is not None:
                probe.remove()
                cell.memory = probe.result()
            if reference_inputs is not None:
                reference_inputs.remove()
        bar.update()
    unwrap(model)

    reference = None
    if reference_inputs is not None and reference_inputs.hidden_states is not None:
        bar.set_description(f"{n} tokens, full-attention reference")
        attention = adapter.attention(adapter.layers[k - 1])
        reference = full_attention_reference(
            adapter, attention, reference_inputs.hidden_states, reference_inputs.position_embeddings
        )
        reference["analytic_weights_bytes"] = shape.num_heads * seq * seq * itemsize
        del reference_inputs

    # timed rounds, interleaved over the cells
    load = LoadMeter()
    load.start()
    for run in range(settings.runs):
        for cell in cells:
            bar.set_description(f"{n} tokens, run {run + 1}/{settings.runs}")
            _apply(model, cell, scorers, k)
            with ModuleSeconds(adapter.audio_tower) if end_to_end else nullcontext() as tower:
                wall, cpu, output = timed_forward(model, inputs, use_cache=True)
            cell.wall.append(wall)
            cell.cpu.append(cpu)
            if end_to_end:
                cell.tower.append(tower.seconds)
            router = getattr(model, "headrouter", None)
            if router is not None:
                cell.scoring.append(router.records[0].scoring_seconds)
            if run == 0:
                cell.kv_bytes = cache_bytes(output_cache(output))
                if router is not None:
                    cell.tokens_after = int(router.kept_index.shape[1])
                    cell.audio_tokens_after = router.records[0].audio_tokens_after
                else:
                    cell.tokens_after, cell.audio_tokens_after = seq, n
            del output
            bar.update()
    unwrap(model)
    summary, rows = _summarise(cells, shape, settings, n, seq, itemsize, reference)
    summary["other_processes_cpu_share"] = load.stop()
    return summary, rows


def _apply(model: nn.Module, cell: _Cell, scorers: dict[str, ScoringMethod], prune_layer: int) -> None:
    unwrap(model)
    if cell.method != "none":
        wrap(model, cell.keep_ratio, prune_layer=prune_layer, method=scorers[cell.method])


def _summarise(cells, shape, settings, n, seq, itemsize, reference) -> tuple[dict, list[dict]]:
    k = settings.prune_layer
    # unpruned: the unwrapped model, or without it keep 1.0 of the first method (the ratios start at 1.0)
    baseline = statistics.median(cells[0].wall)
    unwrapped = cells[0].method == "none"
    reference_extra = reference["extra_bytes"] if reference else None
    full = {c.method: c for c in cells if c.keep_ratio == 1.0}
    rows = []
    for cell in cells:
        wall = statistics.median(cell.wall)
        kept = cell.tokens_after if cell.method != "none" else seq
        decoder_ideal = flops.ideal_speedup(shape, seq, kept, k) if cell.method != "none" else 1.0
        reference_cell = full.get(cell.method)
        speedup = statistics.median(reference_cell.wall) / wall if reference_cell else None
        scoring = statistics.median(cell.scoring) if cell.scoring else None
        peak = cell.memory["peak_bytes"] if cell.memory else None
        kv_ideal = flops.kv_cache_bytes(shape, seq, kept, k if cell.method != "none" else 0, itemsize)
        row = {
            "audio_tokens": n,
            "method": cell.method,
            "keep_ratio": cell.keep_ratio,
            "tokens_before": seq,
            "tokens_after": kept,
            "audio_tokens_after": cell.audio_tokens_after,
            "prefill_ms": wall * 1e3,
            "prefill_ms_runs": [t * 1e3 for t in cell.wall],
            "prefill_ms_min": min(cell.wall) * 1e3,
            "prefill_cpu_ms": statistics.median(cell.cpu) * 1e3,
            "speedup": speedup,
            "speedup_vs_unwrapped": baseline / wall if unwrapped else None,
            "ideal_speedup": decoder_ideal,
            "decoder_ideal_speedup": decoder_ideal,
            "measured_over_ideal": None,
            "gflops": flops.prefill_flops(shape, seq, kept, k) / 1e9,
            "scoring_ms": scoring * 1e3 if scoring is not None else None,
            "scoring_share": scoring / baseline if scoring is not None else None,
            "scoring_memory": cell.memory,
            "scoring_peak_bytes": peak,
            "scoring_peak_share": peak / reference_extra if peak is not None and reference_extra else None,
            "prefill_peak_bytes": cell.prefill_peak,
            "kv_bytes": cell.kv_bytes,
            "kv_bytes_ideal": kv_ideal,
            "kv_error": abs(cell.kv_bytes - kv_ideal) / kv_ideal,
            "decode_ms_per_token": cell.decode * 1e3 if cell.decode is not None else None,
        }
        if cell.tower:
            row.update(_end_to_end(cell, reference_cell, decoder_ideal))
        if speedup is not None:
            row["measured_over_ideal"] = speedup / row["ideal_speedup"]
        rows.append(row)
    summary = {
        "audio_tokens": n,
        "sequence_tokens": seq,
        "skipped": False,
        "unpruned_prefill_ms": baseline * 1e3,
        "reference": reference,
    }
    if cells[0].tower:
        summary["unpruned_tower_ms"] = statistics.median(cells[0].tower) * 1e3
        summary["unpruned_tower_share"] = statistics.median(cells[0].tower) / baseline
    return summary, rows


def _end_to_end(cell: _Cell, reference: _Cell | None, decoder_ideal: float) -> dict:
    """A cell's end-to-end figures: the audio tower's time and share, the decoder's speed-up (prefill minus tower),
    and the end-to-end ideal: the tower's share ``s`` at keep 1.0 unchanged, the rest at the decoder's FLOP ideal,
    ``1 / (s + (1 - s) / decoder ideal)``."""
    tower = statistics.median(cell.tower)
    decoder = statistics.median([w - t for w, t in zip(cell.wall, cell.tower, strict=True)])
    figures = {
        "tower_ms": tower * 1e3,
        "tower_share": tower / statistics.median(cell.wall),
        "decoder_ms": decoder * 1e3,
        "decoder_speedup": None,
        "decoder_over_ideal": None,
        "ideal_speedup": None,
    }
    if reference is not None:
        reference_decoder = statistics.median([w - t for w, t in zip(reference.wall, reference.tower, strict=True)])
        share = statistics.median(reference.tower) / statistics.median(reference.wall)
        figures["decoder_speedup"] = reference_decoder / decoder
        figures["decoder_over_ideal"] = figures["decoder_speedup"] / decoder_ideal
        figures["ideal_speedup"] = 1.0 / (share + (1.0 - share) / decoder_ideal)
    elif cell.method == "none":
        figures["ideal_speedup"] = 1.0
    return figures


def _cell_name(cell: _Cell) -> str:
    return "unwrapped" if cell.method == "none" else f"{cell.method} {cell.keep_ratio:g}"


def _layer_split(num_layers: int, k: int) -> str:
    full = "layer 0" if k == 1 else f"layers 0-{k - 1}"
    pruned = f"layer {k}" if k == num_layers - 1 else f"layers {k}-{num_layers - 1}"
    return f"{full} full sequence, {pruned} kept tokens only (K = {k} of {num_layers})"
