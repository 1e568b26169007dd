"""The options of ``headrouter bench`` and the :class:`~headrouter.bench.settings.BenchSettings` they make."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

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
    audio_tower_families,
    benchmark_families,
    family_adapter,
)
from headrouter.cli.argtypes import items, keep_ratios, method_specs, number, positive_int
from headrouter.cli.options import add_device_and_attention
from headrouter.config import DEFAULT_PRUNE_LAYER


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``headrouter bench``."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"short run: {_join(QUICK_LENGTHS)} audio tokens, keep {_join(QUICK_KEEP_RATIOS)}, {QUICK_RUNS} runs, "
        f"{QUICK_DECODE_TOKENS} decode tokens (options below override it)",
    )
    parser.add_argument(
        "--lengths", type=_int_list, help=f"comma-separated audio token counts (default {_join(DEFAULT_LENGTHS)})"
    )
    parser.add_argument(
        "--keep", type=keep_ratios, help=f"comma-separated keep ratios in (0, 1] (default {_join(DEFAULT_KEEP_RATIOS)})"
    )
    parser.add_argument(
        "--methods",
        type=method_specs,
        help=f"comma-separated method specs, NAME or NAME[KEY=VALUE,...] (default {_join(DEFAULT_METHODS)})",
    )
    parser.add_argument("--runs", type=positive_int, help=f"timed prefill runs per cell (default {DEFAULT_RUNS})")
    parser.add_argument(
        "--decode-tokens",
        type=_decode_tokens,
        help=f"new tokens for decode timing, 0 to skip (default {DEFAULT_DECODE_TOKENS})",
    )
    parser.add_argument(
        "--layers",
        type=positive_int,
        help=f"decoder layers of the built-in model (default {DEFAULT_LAYERS}; not with --config or --model)",
    )
    parser.add_argument(
        "--prune-layer",
        type=positive_int,
        help=f"first pruned layer K (default {DEFAULT_BENCH_PRUNE_LAYER} for the built-in model, "
        f"{DEFAULT_PRUNE_LAYER} with --config or --model)",
    )
    parser.add_argument("--dtype", choices=tuple(DTYPES), default="bfloat16", help="model dtype (default bfloat16)")
    add_device_and_attention(parser)
    parser.add_argument(
        "--with-audio-tower",
        action="store_true",
        help="end to end: run the audio tower on input_features (tower share, decoder and end-to-end speed-ups, "
        f"peak prefill memory); families: {', '.join(audio_tower_families())}",
    )
    parser.add_argument(
        "--tower-layers",
        type=positive_int,
        help="audio-tower layers of the built-in model with --with-audio-tower (default: the published tower depth "
        "scaled like --layers, e.g. 3 for 3 decoder layers, 32 for 36)",
    )
    parser.add_argument(
        "--table", metavar="DIR", help="head table for the headrouter method (default: calibrated on the bench prompts)"
    )
    parser.add_argument(
        "--family",
        type=_family,
        help=f"model family of the built-in model or of --config (default {DEFAULT_FAMILY}); one of {_families()}",
    )
    parser.add_argument(
        "--shape",
        help="published decoder widths of the built-in model, by checkpoint size such as 3B (default the family's "
        "first; an unknown one is refused with the family's list)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--config", metavar="PATH", help="a config JSON of the family (random weights) instead of the built-in model"
    )
    source.add_argument("--model", metavar="PATH", help="a local checkpoint directory of a supported family")
    parser.add_argument("--out", metavar="DIR", default="bench-results", help="output folder (default bench-results)")
    parser.add_argument("--name", help="file name stem of the outputs (default bench, or bench-quick with --quick)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurements (torch.profiler)")
    parser.add_argument("--no-plot", action="store_true", help="skip the plot")
    parser.add_argument(
        "--no-unwrapped",
        action="store_true",
        help="do not time the unwrapped model (keep 1.0 is the unpruned reference; for long runs)",
    )
    parser.add_argument("--threads", type=positive_int, help="torch threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and prompt text (default 0)")


def settings_from_args(args: argparse.Namespace) -> BenchSettings:
    """:class:`BenchSettings` from parsed :func:`add_arguments` options."""
    values = dict(
        methods=args.methods,
        lengths=args.lengths,
        keep_ratios=args.keep,
        runs=args.runs,
        decode_tokens=args.decode_tokens,
        num_layers=args.layers,
        prune_layer=args.prune_layer,
        family=args.family,
        shape=args.shape,
        tower_layers=args.tower_layers,
        table=args.table,
    )
    values = {k: v for k, v in values.items() if v is not None}
    values.update(
        dtype=args.dtype,
        attn_implementation=args.attn,
        device=args.device,
        with_audio_tower=args.with_audio_tower,
        config_path=args.config,
        model_path=args.model,
        memory=not args.no_memory,
        unwrapped=not args.no_unwrapped,
        threads=args.threads,
        seed=args.seed,
    )
    return BenchSettings.quick(**values) if args.quick else BenchSettings(**values)


def _join(values: Sequence) -> str:
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def _decode_tokens(text: str) -> int:
    value = number(int, text)
    if value != 0 and value < 2:
        raise argparse.ArgumentTypeError(f"must be 0 (skip) or >= 2, got {value}")
    return value


def _families() -> str:
    return ", ".join(benchmark_families())


def _family(text: str) -> str:
    try:
        family_adapter(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _int_list(text: str) -> list[int]:
    return [positive_int(item) for item in items(text)]
