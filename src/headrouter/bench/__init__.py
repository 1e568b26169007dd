"""``headrouter bench``: prefill speed, KV-cache bytes and scoring cost of audio-token pruning, beside the ideal.

What is measured, per audio length and per cell (method x keep ratio, plus the unwrapped model):

- **prefill**: wall time of one thinker forward (``torch.no_grad``, ``use_cache=True`` as ``generate`` does),
  median of ``runs``. Every cell is first warmed up once; the timed runs of one audio length are then
  interleaved round-robin over its cells, so that slow periods of a shared machine hit every cell alike.
  Speed-up is against keep ratio 1.0 of the same method in the same run; the FLOP-ideal speed-up for the
  same layer split and token counts comes from :mod:`headrouter.bench.flops`.
- **decoder only** (the default): the prompt holds the audio placeholders but no ``input_features``, so the audio tower
  does not run; the placeholders' own embeddings stand in for the audio features. What prefill costs in
  the decoder, and what pruning saves there, does not depend on the values of those vectors.
- **end to end** (``with_audio_tower``): the prompt carries ``input_features`` that make exactly N audio tokens and
  the family's published audio tower runs on them; per cell the tower's wall time (hooks on the tower), the
  decoder's (prefill minus tower) speed-up against its FLOP ideal, the whole prefill's speed-up against the
  end-to-end ideal (the tower's share at keep 1.0 unchanged, the rest at the decoder's ideal), and the whole
  prefill's peak memory above the weights, instead of the scoring-memory measurements below.
- **scoring time**: ``model.headrouter.records[0].scoring_seconds`` (capture at layer K-1 + scoring and
  selection at layer K), median over the timed runs, as a share of the unwrapped model's prefill.
- **scoring memory**: bytes allocated through PyTorch's CPU allocator, as reported by
  ``torch.profiler`` with ``profile_memory=True``, in two windows of the warm-up prefill: the capture hook
  on layer K-1's attention, and the pruning hook on layer K. Peak above the level at the start of the
  window; the rows kept from the first window to the second count towards the second. Compared with the
  usual research approach, eager attention of layer K-1 returning its ``heads x seq x seq`` weights (as
  ``output_attentions`` does), measured the same way on the same hidden states in the same run, minus
  what the same layer needs with sdpa. oneDNN's internal scratch buffers and Python objects are not seen.
- **KV cache**: sum of ``nbytes`` of every layer's keys and values in the cache the prefill returns,
  against ``K x full length + (N - K) x kept length``.
- **decode**: wall time per new token of ``generate`` (greedy, ``min_new_tokens = max_new_tokens``), the
  median over the decode steps after the first token (the first token comes out of prefill), taken from the
  times at which ``generate`` hands each token to a streamer. This ``generate`` is the cell's warm-up.

The modules: :mod:`.settings` (what to measure), :mod:`.model` (model and prompt, through the family's adapter),
:mod:`.measure` and :mod:`.memory` (the measurements), :mod:`.flops` (the ideal), :mod:`.table` (the head table
headrouter is timed with), :mod:`.run` (the grid),
:mod:`.targets`, :mod:`.report` and :mod:`.options` (the command's arguments). They return data and log through
``logging.getLogger("headrouter")``; ``headrouter bench`` (:mod:`headrouter.cli`) prints the report.

The names below are the benchmark's interface, for the command, ``benchmarks/`` and the tests. Importing this package
loads torch but no family's model code: that is imported where a model is built. What the benchmark knows of a model
family it asks the family's adapter (:class:`headrouter.adapters.ModelAdapter`, its benchmarking section).
"""

from headrouter.bench import flops
from headrouter.bench.measure import LoadMeter, cache_bytes, decode_seconds_per_token, output_cache
from headrouter.bench.memory import (
    AllocationWindow,
    AttentionInputs,
    ScoringMemoryProbe,
    available_memory,
    estimate_prefill_bytes,
    estimate_reference_bytes,
    full_attention_reference,
)
from headrouter.bench.model import TEXT_AFTER, TEXT_BEFORE, load_model, make_inputs
from headrouter.bench.options import add_arguments, settings_from_args
from headrouter.bench.report import format_markdown, plot_speedups, write_report
from headrouter.bench.run import SCHEMA, run_benchmark
from headrouter.bench.settings import (
    DEFAULT_BENCH_PRUNE_LAYER,
    DEFAULT_DECODE_TOKENS,
    DEFAULT_FAMILY,
    DEFAULT_KEEP_RATIOS,
    DEFAULT_LAYERS,
    DEFAULT_LENGTHS,
    DEFAULT_METHODS,
    DEFAULT_RUNS,
    DTYPES,
    QUICK_DECODE_TOKENS,
    QUICK_KEEP_RATIOS,
    QUICK_LENGTHS,
    QUICK_RUNS,
    BenchSettings,
    benchmark_families,
    family_adapter,
)
from headrouter.bench.targets import evaluate_targets, format_targets

__all__ = [
    "DEFAULT_BENCH_PRUNE_LAYER",
    "DEFAULT_DECODE_TOKENS",
    "DEFAULT_FAMILY",
    "DEFAULT_KEEP_RATIOS",
    "DEFAULT_LAYERS",
    "DEFAULT_LENGTHS",
    "DEFAULT_METHODS",
    "DEFAULT_RUNS",
    "DTYPES",
    "QUICK_DECODE_TOKENS",
    "QUICK_KEEP_RATIOS",
    "QUICK_LENGTHS",
    "QUICK_RUNS",
    "SCHEMA",
    "TEXT_AFTER",
    "TEXT_BEFORE",
    "AllocationWindow",
    "AttentionInputs",
    "BenchSettings",
    "LoadMeter",
    "ScoringMemoryProbe",
    "add_arguments",
    "available_memory",
    "cache_bytes",
    "decode_seconds_per_token",
    "estimate_prefill_bytes",
    "estimate_reference_bytes",
    "evaluate_targets",
    "benchmark_families",
    "family_adapter",
    "flops",
    "format_markdown",
    "format_targets",
    "full_attention_reference",
    "load_model",
    "make_inputs",
    "output_cache",
    "plot_speedups",
    "run_benchmark",
    "settings_from_args",
    "write_report",
]
