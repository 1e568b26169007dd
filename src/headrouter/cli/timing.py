"""``headrouter timing``: prefill time of a tiny random-weight model on long audio, unpruned and pruned."""

from __future__ import annotations

import argparse
import functools

from headrouter import __version__
from headrouter.cli.argtypes import at_least, number, positive_int
from headrouter.cli.options import add_methods_and_keep, library_default
from headrouter.cli.text import text_table


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    """Add ``headrouter timing`` to ``subcommands``."""
    subcommands.add_parser(
        "timing",
        help="prefill time of a tiny random-weight model, unpruned and pruned (CPU, no downloads)",
        description=(
            "Builds a tiny random-weight Qwen2.5-Omni thinker and a prompt with SECONDS of audio "
            "(25 audio tokens per second), then times prefill (one forward pass, median of RUNS after a warm-up) "
            "unpruned and for every method and keep ratio."
        ),
        arguments=_arguments,
    ).set_defaults(run=run)


def _arguments(parser: argparse.ArgumentParser) -> None:
    from headrouter.config import DEFAULT_PRUNE_LAYER
    from headrouter.evaluation.demo import (
        DEFAULT_KEEP_RATIOS,
        DEFAULT_METHODS,
        DEFAULT_RUNS,
        DEFAULT_SECONDS,
        DEMO_LAYERS,
        run_timing,
    )

    parser.add_argument(
        "--seconds",
        type=functools.partial(at_least, 1.0, why="second"),
        default=DEFAULT_SECONDS,
        help=f"seconds of audio in the prompt, >= 1, 25 audio tokens each (default {DEFAULT_SECONDS:g})",
    )
    add_methods_and_keep(parser, DEFAULT_METHODS, DEFAULT_KEEP_RATIOS)
    parser.add_argument(
        "--runs",
        type=positive_int,
        default=DEFAULT_RUNS,
        help=f"timed prefill passes per setting (default {DEFAULT_RUNS})",
    )
    parser.add_argument(
        "--prune-layer",
        type=functools.partial(_layer, DEMO_LAYERS),
        default=DEFAULT_PRUNE_LAYER,
        help=f"first pruned decoder layer K, 1 to {DEMO_LAYERS - 1} for the tiny model (default {DEFAULT_PRUNE_LAYER})",
    )
    attention = library_default(run_timing, "attn_implementation")
    parser.add_argument(
        "--attn", choices=("eager", "sdpa"), default=attention, help=f"attention implementation (default {attention})"
    )


def run(args: argparse.Namespace) -> int:
    """Time prefill of every setting and print the table."""
    from headrouter.evaluation.demo import DEMO_LAYERS, run_timing
    from headrouter.machine import describe_machine

    print(f"headrouter {__version__} timing: {describe_machine()}")
    print(
        f"tiny random-weight Qwen2.5-Omni thinker ({DEMO_LAYERS} layers, attn {args.attn}), {args.seconds:g} s of "
        f"audio, prune layer {args.prune_layer}, median of {args.runs} prefill run(s) after a warm-up"
    )
    rows = run_timing(
        seconds=args.seconds,
        methods=args.methods,
        keep_ratios=args.keep,
        runs=args.runs,
        attn_implementation=args.attn,
        prune_layer=args.prune_layer,
        num_layers=DEMO_LAYERS,
    )
    print()
    print(format_table(rows))
    return 0


def format_table(rows: list[dict]) -> str:
    """The timing rows as a fixed-width text table."""
    header = ("method", "keep", "audio tokens", "prefill ms", "vs keep 1.0")
    lines = [
        (
            row["method"] if row["keep_ratio"] is not None else "none (unwrapped)",
            str(row["keep_ratio"]) if row["keep_ratio"] is not None else "-",
            f"{row['audio_tokens_before']:,} -> {row['audio_tokens_after']:,}",
            f"{row['prefill_ms']:.1f}",
            f"{row['ratio']:.2f}" if row["ratio"] is not None else "-",
        )
        for row in rows
    ]
    return text_table(header, lines, (True, False, False, False, False))


def _layer(layers: int, text: str) -> int:
    """A prune layer K of a ``layers``-layer model: 1 to ``layers - 1``."""
    value = number(int, text)
    if not 1 <= value <= layers - 1:
        raise argparse.ArgumentTypeError(f"must be between 1 and {layers - 1} for the tiny model, got {value}")
    return value
