"""The ``headrouter`` command.

``headrouter demo``: prefill time of a tiny random-weight Qwen2.5-Omni thinker on long audio, unpruned and
pruned with every method at several keep ratios. Runs on a CPU, without downloads.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .config import DEFAULT_PRUNE_LAYER
from .demo import (
    DEFAULT_KEEP_RATIOS,
    DEFAULT_METHODS,
    DEFAULT_RUNS,
    DEFAULT_SECONDS,
    DEMO_LAYERS,
    describe_machine,
    run_demo,
)
from .methods import available_methods


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.run(args, parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="headrouter",
        description="Training-free audio-token pruning inside large audio language models (Qwen2.5-Omni).",
    )
    parser.add_argument("--version", action="version", version=f"headrouter {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="prefill time of a tiny random-weight model, unpruned and pruned (CPU, no downloads)",
        description=(
            "Builds a tiny random-weight Qwen2.5-Omni thinker and a prompt with SECONDS of audio "
            "(25 audio tokens per second), then times prefill (one forward pass, median of RUNS after a warm-up) "
            "unpruned and for every method and keep ratio."
        ),
    )
    demo.add_argument(
        "--seconds",
        type=_seconds,
        default=DEFAULT_SECONDS,
        help=f"seconds of audio in the prompt, >= 1, 25 audio tokens each (default {DEFAULT_SECONDS:g})",
    )
    demo.add_argument(
        "--methods",
        type=_method_list,
        default=list(DEFAULT_METHODS),
        help=f"comma-separated scoring methods (default {','.join(DEFAULT_METHODS)}; known: "
        f"{','.join(available_methods())})",
    )
    demo.add_argument(
        "--keep",
        type=_keep_list,
        default=list(DEFAULT_KEEP_RATIOS),
        help=f"comma-separated keep ratios in (0, 1] (default {','.join(map(str, DEFAULT_KEEP_RATIOS))})",
    )
    demo.add_argument(
        "--runs",
        type=_positive_int,
        default=DEFAULT_RUNS,
        help=f"timed prefill passes per setting (default {DEFAULT_RUNS})",
    )
    demo.add_argument(
        "--prune-layer",
        type=_layer,
        default=DEFAULT_PRUNE_LAYER,
        help=f"first pruned decoder layer K, 1 to {DEMO_LAYERS - 1} for the tiny model (default {DEFAULT_PRUNE_LAYER})",
    )
    demo.add_argument(
        "--attn", choices=("eager", "sdpa"), default="sdpa", help="attention implementation (default sdpa)"
    )
    demo.set_defaults(run=_demo)
    return parser


# ---------------------------------------------------------------------- demo


def _demo(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    print(f"headrouter {__version__} demo: {describe_machine()}")
    print(
        f"tiny random-weight Qwen2.5-Omni thinker ({DEMO_LAYERS} layers, attn {args.attn}), {args.seconds:g} s of "
        f"audio, prune layer {args.prune_layer}, median of {args.runs} prefill run(s) after a warm-up"
    )
    rows = run_demo(
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
    """The demo's rows as a fixed-width text table."""
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
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    left = (True, False, False, False, False)

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if lft else c.rjust(w) for c, w, lft in zip(cells, widths, left, strict=True)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines)])


# ---------------------------------------------------------------------- argument types


def _parse(kind: Callable[[str], object], text: str):
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def _positive_int(text: str) -> int:
    value = _parse(int, text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _seconds(text: str) -> float:
    value = _parse(float, text)
    if not 1.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be at least 1 (second), got {text}")
    return value


def _layer(text: str) -> int:
    value = _parse(int, text)
    if not 1 <= value <= DEMO_LAYERS - 1:
        raise argparse.ArgumentTypeError(f"must be between 1 and {DEMO_LAYERS - 1} for the tiny model, got {value}")
    return value


def _keep_list(text: str) -> list[float]:
    ratios = []
    for item in _items(text):
        ratio = _parse(float, item)
        if not 0.0 < ratio <= 1.0:
            raise argparse.ArgumentTypeError(f"keep ratios must be in (0, 1], got {item}")
        ratios.append(ratio)
    return ratios


def _method_list(text: str) -> list[str]:
    known = available_methods()
    methods = _items(text)
    unknown = [m for m in methods if m not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return methods


def _items(text: str) -> list[str]:
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(f"expected a comma-separated list without empty items, got {text!r}")
    return items


if __name__ == "__main__":
    sys.exit(main())
