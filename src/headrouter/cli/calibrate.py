"""``headrouter calibrate``: profile a local checkpoint's heads on a calibration set and save a HeadTable."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from headrouter.cli.argtypes import items, positive_int, share
from headrouter.cli.options import add_dtype, add_truncate_audio, library_default


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    """Add ``headrouter calibrate`` to ``subcommands``."""
    subcommands.add_parser(
        "calibrate",
        help="profile per-head audio attention on a calibration set and save a HeadTable",
        description="One forward pass per sample; writes head_table.safetensors and head_table.json to OUT.",
        arguments=_arguments,
    ).set_defaults(run=run)


def _arguments(parser: argparse.ArgumentParser) -> None:
    from headrouter.methods.headrouter.calibration import DEFAULT_TASKS, calibrate

    parser.add_argument("--model", required=True, help="a local checkpoint directory of a supported model")
    parser.add_argument(
        "--data",
        required=True,
        help='JSON lines: {"audio": PATH, "prompt": TEXT, "task": TYPE} per sample, or evaluation items',
    )
    parser.add_argument("--out", required=True, help="directory for the table")
    parser.add_argument(
        "--tasks",
        type=items,
        default=list(DEFAULT_TASKS),
        help=f"comma-separated task types; each needs >= 1 sample in --data (default {','.join(DEFAULT_TASKS)})",
    )
    bins, coverage = library_default(calibrate, "bins"), library_default(calibrate, "coverage")
    parser.add_argument("--bins", type=positive_int, default=bins, help=f"positional-prior bins (default {bins})")
    parser.add_argument(
        "--coverage",
        type=share,
        default=coverage,
        help=f"share of importance the kept heads hold, (0, 1] (default {coverage:g})",
    )
    add_dtype(parser)
    add_truncate_audio(parser)


def run(args: argparse.Namespace) -> int:
    """Check the data, load the model, calibrate and write the table."""
    from headrouter.adapters import load_model, load_processor
    from headrouter.methods.headrouter.calibration import calibrate, check_tasks, load_samples

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # everything that can be checked without the weights is checked first: a typo fails before a minute of loading
    samples = load_samples(args.data)
    check_tasks(samples, args.tasks)
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise NotADirectoryError(f"--out {args.out} is a file; the table needs a directory")
    model = load_model(args.model, dtype=args.dtype)
    processor = load_processor(args.model)
    table = calibrate(
        model,
        processor,
        samples,
        tasks=args.tasks,
        bins=args.bins,
        coverage=args.coverage,
        truncate_audio=args.truncate_audio,
    )
    out = table.save_pretrained(args.out)
    counts = ", ".join(f"{task}: {n}" for task, n in table.meta["calibration_counts"].items())
    print(f"calibrated on {counts} ({table.meta['failed_samples']} failed); table written to {out}")
    return 0
