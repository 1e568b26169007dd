"""``headrouter eval``: accuracy, percent of unpruned, audio tokens and prefill time of every setting on an items
file."""

from __future__ import annotations

import argparse
import logging

from headrouter.cli.argtypes import positive_int
from headrouter.cli.options import (
    add_dtype,
    add_methods_and_keep,
    add_prune_layer,
    add_truncate_audio,
    library_default,
)
from headrouter.cli.text import written_files


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    """Add ``headrouter eval`` to ``subcommands``."""
    subcommands.add_parser(
        "eval",
        help="score every method and keep ratio on an items file: accuracy, %% of unpruned, tokens, prefill time",
        description=(
            "Answers every item greedily, unpruned and with every method at every keep ratio, scores the answers "
            "(accuracy, or WER for transcription items) and writes results.json, predictions.jsonl, results.md and "
            "results.png to OUT: per task, per task family and overall, the score, the percent of the unpruned "
            "score, the audio tokens before and after pruning, and the mean prefill time. The items file holds one "
            'JSON object per line: {"id", "audio", "question", "choices", "answer", "task", "task_type", "metric"} '
            "(see headrouter.evaluation.tasks.items)."
        ),
        arguments=_arguments,
    ).set_defaults(run=run)


def _arguments(parser: argparse.ArgumentParser) -> None:
    from headrouter.evaluation.runner import DEFAULT_KEEP_RATIOS, DEFAULT_MAX_NEW_TOKENS, evaluate
    from headrouter.methods import available_methods

    parser.add_argument("--model", required=True, metavar="DIR", help="a local checkpoint of a supported model")
    parser.add_argument("--data", required=True, metavar="ITEMS", help="a JSON-lines items file")
    add_methods_and_keep(parser, available_methods(), DEFAULT_KEEP_RATIOS)
    parser.add_argument(
        "--table", metavar="DIR", help="HeadTable for the headrouter method (default: its calibration-free fallback)"
    )
    parser.add_argument("--limit", type=positive_int, help="evaluate only the first N items")
    parser.add_argument("--out", metavar="DIR", default="eval-results", help="output folder (default eval-results)")
    parser.add_argument(
        "--max-new-tokens",
        type=positive_int,
        default=DEFAULT_MAX_NEW_TOKENS,
        help=f"answer length limit in tokens (default {DEFAULT_MAX_NEW_TOKENS})",
    )
    batch_size = library_default(evaluate, "batch_size")
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=batch_size,
        help=f"items generated together, left-padded (default {batch_size})",
    )
    add_prune_layer(parser)
    add_dtype(parser)
    parser.add_argument("--system-prompt", help="a system turn before each question (default: none)")
    add_truncate_audio(parser)
    parser.add_argument("--threads", type=positive_int, help="torch threads (default: torch's choice)")
    parser.add_argument("--no-plot", action="store_true", help="skip the plot")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Check the input, load the model, evaluate, write the report and print its tables and files."""
    import torch

    from headrouter.adapters import load_model, load_processor
    from headrouter.evaluation import report
    from headrouter.evaluation.runner import check_checkpoint, evaluate, load_items
    from headrouter.methods.headrouter.table import HeadTable

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    # everything that can be checked without the weights is checked first: a typo fails before a minute of loading
    items = load_items(args.data, args.limit)
    table = HeadTable.from_pretrained(args.table) if args.table is not None else None
    check_checkpoint(args.model, args.prune_layer, table)
    model = load_model(args.model, dtype=args.dtype)
    processor = load_processor(args.model)
    print(
        f"headrouter eval: {len(items)} items x (unpruned + {len(args.methods)} method(s) x {len(args.keep)} keep "
        f"ratio(s)); output in {args.out}",
        flush=True,
    )
    results = evaluate(
        model,
        processor,
        items,
        args.methods,
        args.keep,
        table=table,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        prune_layer=args.prune_layer,
        system_prompt=args.system_prompt,
        truncate_audio=args.truncate_audio,
        progress=not args.no_progress,
    )
    results["settings"].update(model=str(args.model), data=str(args.data), limit=args.limit, table_path=args.table)
    paths = report.write_report(results, args.out, plot=not args.no_plot)
    counts = results["counts"]
    print(f"\n{counts['evaluated']} of {counts['items']} items evaluated, {counts['skipped']} skipped")
    for rows, name in [(results["overall"], "overall")] + [
        ([r for r in results["families"] if r["task_type"] == f], f) for f in report.families(results)
    ]:
        base = next(r for r in rows if r["method"] == "none")
        score = "-" if base["score"] is None else f"{base['score']:.3f}"
        print(f"\n{name}: unpruned score {score}; percent of unpruned:\n")
        print(report.percent_table(rows))
    print()
    print(written_files(paths, plot=not args.no_plot))
    return 0
