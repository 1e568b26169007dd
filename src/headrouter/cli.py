"""The ``headrouter`` command.

``headrouter demo``: prefill time of a tiny random-weight Qwen2.5-Omni thinker on long audio, unpruned and
pruned with every method at several keep ratios. Runs on a CPU, without downloads.
``headrouter calibrate``: profile a local checkpoint's heads on a calibration set and save a HeadTable.
``headrouter inspect``: draw a saved HeadTable's head weights.
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

    calibrate = commands.add_parser(
        "calibrate",
        help="profile per-head audio attention on a calibration set and save a HeadTable",
        description="One forward pass per sample; writes head_table.safetensors and head_table.json to OUT.",
    )
    calibrate.add_argument("--model", required=True, help="local Qwen2.5-Omni checkpoint directory")
    calibrate.add_argument(
        "--data", required=True, help='JSON lines: {"audio": PATH, "prompt": TEXT, "task": TYPE} per sample'
    )
    calibrate.add_argument("--out", required=True, help="directory for the table")
    calibrate.add_argument(
        "--tasks", type=_items, default=["semantic", "acoustic"], help="task types (default semantic,acoustic)"
    )
    calibrate.add_argument("--bins", type=_positive_int, default=16, help="positional-prior bins (default 16)")
    calibrate.add_argument(
        "--coverage", type=_share, default=0.8, help="share of importance the kept heads hold, (0, 1] (default 0.8)"
    )
    calibrate.add_argument("--dtype", default="auto", help="model dtype (default: the checkpoint's)")
    calibrate.set_defaults(run=_calibrate)

    inspect = commands.add_parser("inspect", help="plot a HeadTable's head weights per task type")
    inspect.add_argument("table", help="a directory written by calibrate")
    inspect.add_argument("--out", required=True, help="image file to write, e.g. heads.png")
    inspect.set_defaults(run=_inspect)
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


def _calibrate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import logging

    from .calibration import calibrate, load_samples
    from .loading import load_model, load_processor

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    samples = load_samples(args.data)
    model = load_model(args.model, dtype=args.dtype)
    processor = load_processor(args.model)
    table = calibrate(model, processor, samples, tasks=args.tasks, bins=args.bins, coverage=args.coverage)
    out = table.save_pretrained(args.out)
    counts = ", ".join(f"{task}: {n}" for task, n in table.meta["calibration_counts"].items())
    print(f"calibrated on {counts} ({table.meta['failed_samples']} failed); table written to {out}")
    return 0


def _inspect(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .table import HeadTable

    figure = HeadTable.from_pretrained(args.table).plot()
    figure.savefig(args.out, dpi=120, bbox_inches="tight")
    print(f"wrote {args.out}")
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


def _share(text: str) -> float:
    value = _parse(float, text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


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
