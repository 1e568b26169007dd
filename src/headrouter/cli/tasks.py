"""``headrouter tasks``: write a synthetic listening-task items file (the proving ground's test and calibration
sets): the short-clip family (default) or the long-clip family (``--family long``)."""

from __future__ import annotations

import argparse
import functools
from collections import Counter

from headrouter.cli.argtypes import at_least, fraction, known_names, positive_int
from headrouter.cli.options import library_default

FAMILIES = ("short", "long")


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    """Add ``headrouter tasks`` to ``subcommands``."""
    subcommands.add_parser(
        "tasks",
        help="write synthetic listening items (speech by espeak-ng, numpy sounds) for eval and calibrate",
        arguments=_arguments,
    ).set_defaults(run=run)


def _arguments(parser: argparse.ArgumentParser) -> None:
    from headrouter.evaluation.tasks import long
    from headrouter.evaluation.tasks.generator import (
        DEFAULT_LONG_FRACTION,
        DEFAULT_MAX_SECONDS,
        DEFAULT_MIN_SECONDS,
        TASKS,
        generate,
    )

    parser.description = (
        "Writes PER_TASK items of every task of a family to OUT/items.jsonl and their 16 kHz WAVs to OUT/clips/, "
        "deterministic by SEED. Short family: "
        + ", ".join(f"{name} ({spec.task_type})" for name, spec in TASKS.items())
        + ". Long family: "
        + ", ".join(f"{name} ({spec.task_type})" for name, spec in long.LONG_TASKS.items())
    )
    longer = ", ".join(f"{n}: {t.min_seconds:g}" for n, t in TASKS.items() if t.min_seconds > DEFAULT_MIN_SECONDS)
    seed = library_default(generate, "seed")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--per-task", type=positive_int, required=True, help="items per task")
    parser.add_argument("--seed", type=int, default=seed, help=f"generator seed (default {seed})")
    parser.add_argument(
        "--family",
        choices=FAMILIES,
        default=FAMILIES[0],
        help="short: one sound or phrase in 2-64 s clips; long: questions about where things are in long clips "
        f"(default {FAMILIES[0]})",
    )
    parser.add_argument(
        "--tasks",
        type=functools.partial(known_names, known=[*TASKS, *long.LONG_TASKS], what="task"),
        help=f"comma-separated task names of the family (default all: {','.join(TASKS)} for the short family, "
        f"{','.join(long.LONG_TASKS)} for the long one)",
    )
    parser.add_argument(
        "--min-seconds",
        type=functools.partial(at_least, DEFAULT_MIN_SECONDS, why="the shortest clip a task draws"),
        help=(
            f"shortest clip in seconds (default {DEFAULT_MIN_SECONDS:g} for the short family; "
            f"{long.DEFAULT_MIN_SECONDS:g} for the long family, which allows {long.SHORTEST_SECONDS:g} or more)"
        ),
    )
    parser.add_argument(
        "--max-seconds",
        type=functools.partial(at_least, DEFAULT_MIN_SECONDS, why="the shortest clip a task draws"),
        help=(
            f"longest clip in seconds, >= {DEFAULT_MIN_SECONDS:g} and >= the shortest clip of every task asked for "
            f"({longer}); a clip whose content is longer (a 3 s chord) runs 0.5 s past the content "
            f"(default {DEFAULT_MAX_SECONDS:g}; {long.DEFAULT_MAX_SECONDS:g} for the long family, whose clips are "
            "uniform in [min, max] seconds)"
        ),
    )
    parser.add_argument(
        "--long-fraction",
        type=fraction,
        help=f"share of long clips, [0, 1], short family only (default {DEFAULT_LONG_FRACTION:g})",
    )


def run(args: argparse.Namespace) -> int:
    """Generate the items and clips of the family; print how many per task type."""
    if args.family == "long":
        from headrouter.evaluation.tasks.long import DEFAULT_MAX_SECONDS, DEFAULT_MIN_SECONDS, generate_long

        if args.long_fraction is not None:
            raise ValueError("--long-fraction applies to the short family only (long clips are uniform in length)")
        written = generate_long(
            args.out,
            args.per_task,
            args.seed,
            args.tasks,
            min_seconds=DEFAULT_MIN_SECONDS if args.min_seconds is None else args.min_seconds,
            max_seconds=DEFAULT_MAX_SECONDS if args.max_seconds is None else args.max_seconds,
        )
    else:
        from headrouter.evaluation.tasks import generator

        given = {"min_seconds": args.min_seconds, "max_seconds": args.max_seconds, "long_fraction": args.long_fraction}
        written = generator.generate(
            args.out, args.per_task, args.seed, args.tasks, **{k: v for k, v in given.items() if v is not None}
        )
    families = Counter(item.task_type for item in written)
    counts = ", ".join(f"{family}: {n}" for family, n in sorted(families.items()))
    print(f"wrote {len(written)} items ({counts}) to {args.out}/items.jsonl")
    return 0
