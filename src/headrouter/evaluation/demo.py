"""The demo: the shipped proving-ground model answers the shipped clips unpruned and pruned; and prefill timing of a
tiny random-weight model (``headrouter timing``), reused by examples and benchmarks.

Nothing here prints; the ``headrouter demo`` and ``headrouter timing`` commands format the results.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from torch import nn

from headrouter.adapters import adapter_for
from headrouter.api import pruning
from headrouter.config import DEFAULT_METHOD, DEFAULT_PRUNE_LAYER
from headrouter.evaluation.runner import DEFAULT_MAX_NEW_TOKENS
from headrouter.timing import timed_forward

if TYPE_CHECKING:
    from headrouter.evaluation.tasks.items import Item

ASSETS = Path(__file__).resolve().parents[1] / "assets"
SHIPPED_MODEL = ASSETS / "proving_ground"
"""The small Qwen2.5-Omni-architecture model trained on the synthetic listening tasks (a from_pretrained folder)."""
SHIPPED_ITEMS = ASSETS / "demo" / "items.jsonl"
"""The demo clips: items in the evaluation format, audio next to them."""
SHIPPED_TABLE = ASSETS / "head_table"
"""A HeadTable calibrated for the shipped model, if one is shipped; else ``headrouter`` runs its fallback."""

CLIP_METHODS = (DEFAULT_METHOD, "headrouter", "fastv")
CLIP_KEEP_RATIOS = (0.5, 0.3)

DEFAULT_METHODS = ("fastv", "random", "frame")
DEFAULT_KEEP_RATIOS = (1.0, 0.7, 0.3)
DEFAULT_SECONDS = 60.0
DEFAULT_RUNS = 5
DEMO_LAYERS = 4
"""Decoder layers of the tiny timing model (so the prune layer is 1 to 3)."""


# ---------------------------------------------------------------------- the shipped model on the shipped clips


@dataclass
class ClipRun:
    """What :func:`run_clips` did: the items, :func:`headrouter.evaluation.runner.evaluate`'s results, load time."""

    items: list[Item]
    results: dict
    load_seconds: float
    run_seconds: float


def run_clips(
    model: str | Path | None = None,
    data: str | Path | None = None,
    methods: Sequence[str] = CLIP_METHODS,
    keep_ratios: Sequence[float] = CLIP_KEEP_RATIOS,
    *,
    table: str | Path | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    prune_layer: int = DEFAULT_PRUNE_LAYER,
    limit: int | None = None,
    dtype: str = "float32",
) -> ClipRun:
    """Load ``model`` (default: the shipped model) and answer ``data`` (default: the shipped clips) unpruned and with
    every method at every keep ratio. ``table`` defaults to the shipped head table for the shipped model (another
    model gets none: the shipped table describes the shipped model only). The model runs in ``dtype`` (float32 by
    default: the demo is for CPUs).

    ``FileNotFoundError`` with what to do if the model or the items are missing. The items, the table and the prune
    layer are checked before the model loads (:func:`~headrouter.evaluation.runner.check_checkpoint`).
    """
    from headrouter.adapters import load_model, load_processor
    from headrouter.evaluation.runner import check_checkpoint, evaluate, load_items
    from headrouter.methods import get_method
    from headrouter.methods.headrouter.table import HeadTable

    model_dir, items_file = _asset(model, SHIPPED_MODEL, "config.json"), _asset(data, SHIPPED_ITEMS, None)
    uses_table = any(get_method(method).uses_table for method in methods)  # a bad spec fails before any loading
    if table is None and model is None and uses_table and (SHIPPED_TABLE / "head_table.json").is_file():
        table = SHIPPED_TABLE
    items = load_items(items_file, limit)
    head_table = HeadTable.from_pretrained(table) if table is not None else None
    check_checkpoint(model_dir, prune_layer, head_table)
    start = time.perf_counter()
    loaded = load_model(model_dir, dtype=dtype)
    processor = load_processor(model_dir)
    loaded_at = time.perf_counter()
    results = evaluate(
        loaded,
        processor,
        items,
        methods,
        keep_ratios,
        table=head_table,
        max_new_tokens=max_new_tokens,
        prune_layer=prune_layer,
        progress=False,
    )
    results["settings"].update(model=str(model_dir), data=str(items_file), table_path=str(table) if table else None)
    return ClipRun(items, results, loaded_at - start, time.perf_counter() - loaded_at)


def _asset(given: str | Path | None, shipped: Path, marker: str | None) -> Path:
    path = Path(given) if given is not None else shipped
    needed = path / marker if marker else path
    if needed.is_file():
        return path
    if given is not None:
        raise FileNotFoundError(f"{needed} not found")
    raise FileNotFoundError(
        f"the shipped demo assets are missing ({needed} not found); this copy of headrouter was installed without "
        "them. Reinstall from a complete checkout, or pass --model DIR and --data ITEMS.jsonl"
    )


# ---------------------------------------------------------------------- prefill timing of the tiny model


def measure_prefill(model: nn.Module, inputs: Mapping, runs: int = DEFAULT_RUNS, warmup: int = 1) -> list[float]:
    """Wall seconds of ``runs`` prefill forward passes of ``model`` on ``inputs``, after ``warmup`` untimed ones.

    Each pass is one forward of the model's forward module (the thinker of a full Qwen2.5-Omni) under
    ``torch.no_grad``, timed by :func:`headrouter.timing.timed_forward` (no cache kept between passes). Works on
    wrapped and unwrapped models alike.
    """
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    module = adapter_for(model).forward_module
    times = []
    for i in range(warmup + runs):
        wall, _, _ = timed_forward(module, inputs)
        if i >= warmup:
            times.append(wall)
    return times


def count_audio_tokens(model: nn.Module, inputs: Mapping) -> int:
    """Audio placeholder tokens in ``inputs`` (all samples, padding excluded)."""
    audio = inputs["input_ids"] == adapter_for(model).audio_token_id
    if inputs.get("attention_mask") is not None:
        audio &= inputs["attention_mask"].bool()
    return int(audio.sum())


def compare_prefill(
    model: nn.Module,
    inputs: Mapping,
    methods: Sequence[str] = DEFAULT_METHODS,
    keep_ratios: Sequence[float] = DEFAULT_KEEP_RATIOS,
    runs: int = DEFAULT_RUNS,
    prune_layer: int = DEFAULT_PRUNE_LAYER,
) -> list[dict]:
    """Median prefill time of the unwrapped ``model`` and of every (method, keep ratio), on the same ``inputs``.

    ``model`` must not be wrapped; it is left unwrapped. Returns one row per setting, the baseline first::

        {"method": "none" | name, "keep_ratio": None | float, "audio_tokens_before": int,
         "audio_tokens_after": int, "prefill_ms": float, "ratio": float | None}

    Token counts are summed over the batch (from ``model.headrouter.records`` for pruned rows). ``ratio`` is
    ``prefill_ms`` over that of keep 1.0 with the same method (None if 1.0 is not among ``keep_ratios``).
    """
    if getattr(model, "headrouter", None) is not None:
        raise ValueError("compare_prefill needs an unwrapped model (call headrouter.unwrap(model) first)")
    n_audio = count_audio_tokens(model, inputs)
    baseline = statistics.median(measure_prefill(model, inputs, runs)) * 1e3
    rows = [_row("none", None, n_audio, n_audio, baseline)]
    for method in methods:
        first = len(rows)
        for keep in keep_ratios:
            with pruning(model, keep, prune_layer=prune_layer, method=method) as router:
                ms = statistics.median(measure_prefill(model, inputs, runs)) * 1e3
                before = sum(r.audio_tokens_before for r in router.records)
                after = sum(r.audio_tokens_after for r in router.records)
            rows.append(_row(method, float(keep), before, after, ms))
        full = next((r["prefill_ms"] for r in rows[first:] if r["keep_ratio"] == 1.0), None)
        for row in rows[first:]:
            row["ratio"] = row["prefill_ms"] / full if full else None
    return rows


def run_timing(
    seconds: float = DEFAULT_SECONDS,
    methods: Sequence[str] = DEFAULT_METHODS,
    keep_ratios: Sequence[float] = DEFAULT_KEEP_RATIOS,
    runs: int = DEFAULT_RUNS,
    attn_implementation: str = "sdpa",
    prune_layer: int = DEFAULT_PRUNE_LAYER,
    num_layers: int = DEMO_LAYERS,
) -> list[dict]:
    """:func:`compare_prefill` on the tiny random-weight thinker, ``seconds`` of audio in the prompt (no downloads)."""
    from headrouter.adapters.qwen2_5_omni import tiny  # imported where used: the CLI reads this module's defaults

    model = tiny.tiny_model(attn_implementation=attn_implementation, num_layers=num_layers)
    inputs = demo_inputs(seconds)
    return compare_prefill(model, inputs, methods, keep_ratios, runs, prune_layer)


def demo_inputs(seconds: float = DEFAULT_SECONDS):
    """One tiny-model prompt: 5 text tokens, ``seconds`` of a tone (25 audio tokens per second), 12 text tokens."""
    from headrouter.adapters.qwen2_5_omni import tiny

    return tiny.encode([tiny.audio_prompt([tiny.tone(seconds)], text_lengths=[5, 12])])


def _row(method: str, keep: float | None, before: int, after: int, ms: float) -> dict:
    return {
        "method": method,
        "keep_ratio": keep,
        "audio_tokens_before": before,
        "audio_tokens_after": after,
        "prefill_ms": ms,
        "ratio": None,
    }
