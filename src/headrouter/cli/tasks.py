"""``headrouter tasks``: write a synthetic listening-task items file (the proving ground's test and calibration
sets)."""

from __future__ import annotations

import argparse
import functools
from collections import Counter

from headrouter.cli.argtypes import at_least, fraction, known_names, positive_int
from headrouter.cli.options import library_default


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    """Add ``headrouter tasks`` to ``subcommands``."""
    subcommands.add_parser(
        "tasks",
        help="write synthetic listening items (speech by espeak-ng, numpy sounds) for eval and calibrate",
        arguments=_arguments,
    ).set_defaults(run=run)


def _arguments(parser: argparse.ArgumentParser) -> None:
    from headrouter.evaluation.tasks.generator import (
        DEFAULT_LONG_FRACTION,
        DEFAULT_MAX_SECONDS,
        DEFAULT_MIN_SECONDS,
        TASKS,
        generate,
    )

    parser.description = (
        "Writes PER_TASK items of every task to OUT/items.jsonl and their 16 kHz WAVs to OUT/clips/, "
        "deterministic by SEED. Tasks: " + ", ".join(f"{name} ({spec.task_type})" for name, spec in TASKS.items())
    )
    longer = ", ".join(f"{n}: {t.min_seconds:g}" for n, t in TASKS.items() if t.min_seconds > DEFAULT_MIN_SECONDS)
    seed = library_default(generate, "seed")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--per-task", type=positive_int, required=True, help="items per task")
    parser.add_argument("--seed", type=int, default=seed, help=f"generator seed (default {seed})")
    parser.add_argument(
        "--tasks",
        type=functools.partial(known_names, known=list(TASKS), what="task"),
        help=f"comma-separated task names (default all: {','.join(TASKS)})",
    )
    parser.add_argument(
        "--max-seconds",
        type=functools.partial(at_least, DEFAULT_MIN_SECONDS, why="the shortest clip a task draws"),
        default=DEFAULT_MAX_SECONDS,
        help=(
            f"longest clip in seconds, >= {DEFAULT_MIN_SECONDS:g} and >= the shortest clip of every task asked for "
            f"({longer}); a clip whose content is longer (a 3 s chord) runs 0.5 s past the content "
            f"(default {DEFAULT_MAX_SECONDS:g})"
        ),
    )
    parser.add_argument(
        "--long-fraction",
        type=fraction,
        default=DEFAULT_LONG_FRACTION,
        help=f"share of long clips, [0, 1] (default {DEFAULT_LONG_FRACTION:g})",
    )


def run(args: argparse.Namespace) -> int:
    """Generate the items and clips; print how many per task family."""
    from headrouter.evaluation.tasks.generator import generate

    written = generate(
        args.out,
        args.per_task,
        args.seed,
        args.tasks,
        max_seconds=args.max_seconds,
        long_fraction=args.long_fraction,
    )
    families = Counter(item.task_type for item in written)
    counts = ", ".join(f"{family}: {n}" for family, n in sorted(families.items()))
    print(f"wrote {len(written)} items ({counts}) to {args.out}/items.jsonl")
    return 0
