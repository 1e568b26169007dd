"""``headrouter eval``: accuracy, percent of unpruned, audio tokens and prefill time of every setting on an items
file or a benchmark on disk (AudioMarathon, MMAU-Pro, MMAU test-mini, a Hugging Face datasets folder), resumable."""

from __future__ import annotations

import argparse
import logging

from headrouter.cli.argtypes import checked_specs, keep_ratios, positive_int
from headrouter.cli.options import (
    add_device_and_attention,
    add_dtype,
    add_prune_layer,
    add_truncate_audio,
    library_default,
)
from headrouter.cli.text import written_files


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    """Add ``headrouter eval`` to ``subcommands``."""
    subcommands.add_parser(
        "eval",
        help="score every method and keep ratio on items or a benchmark: %% of unpruned, tokens, prefill time",
        description=(
            "Answers every item greedily, unpruned and with every method at every keep ratio, scores the answers "
            "with the benchmark's own rule (accuracy, F1, or WER for transcription) and writes results.json, "
            "predictions.jsonl, results.md and results.png to OUT: the paper's table (percent of unpruned per task, "
            "domain and task type, and the average) and, per task, domain, task family and overall, the score, the "
            "percent of the unpruned score, the audio tokens before and after pruning, and the mean prefill time. "
            "Every answer is also appended to OUT/progress.jsonl as it finishes: a run stopped part way (a crash, "
            "Ctrl-C) continues where it stopped when the same command is run again. --benchmark items (default) reads "
            'one JSON object per line: {"id", "audio", "question", "choices", "answer", "task", "task_type", "metric"} '
            "(see headrouter.evaluation.tasks.items); the benchmark formats are described in docs/benchmarks.md."
        ),
        arguments=_arguments,
    ).set_defaults(run=run)


def _arguments(parser: argparse.ArgumentParser) -> None:
    from headrouter.config import DEFAULT_METHOD
    from headrouter.evaluation.benchmarks import BENCHMARKS
    from headrouter.evaluation.runner import DEFAULT_KEEP_RATIOS, DEFAULT_MAX_NEW_TOKENS, evaluate
    from headrouter.methods import available_methods

    parser.add_argument("--model", required=True, metavar="DIR", help="a local checkpoint of a supported model")
    parser.add_argument(
        "--benchmark",
        choices=list(BENCHMARKS),
        default="items",
        help="the format of --data: "
        + "; ".join(f"{b.name}: {b.data}" for b in BENCHMARKS.values())
        + " (default items)",
    )
    parser.add_argument("--data", required=True, metavar="PATH", help="the items file or benchmark data (--benchmark)")
    parser.add_argument(
        "--columns",
        type=_columns,
        metavar="FIELD=COLUMN,...",
        help="hf: the dataset's column for an item field (fields: id, audio, question, answer, choices, task, "
        "task_type, domain; default: the usual names, e.g. audio, question, answer, choices)",
    )
    parser.add_argument("--split", help="hf: the split of a saved DatasetDict (default: its only one)")
    parser.add_argument(
        "--metric",
        help="hf: how rows are scored: choice, exact, wer or a benchmark rule such as mmau (default: "
        "choice for rows with choices, else exact)",
    )
    parser.add_argument(  # not the shared --methods: evaluation takes method specs (settings, oracle routing)
        "--methods",
        type=_method_specs,
        default=[*available_methods(), DEFAULT_METHOD],
        help="comma-separated methods, each a name or NAME[KEY=VALUE,...] with the method's settings, e.g. "
        "headrouter[smooth=0.25], segment[inner=headrouter] (the --table goes to the inner method), "
        "headrouter[oracle] (each item's own task_type as task: oracle routing; needs --table) "
        f"(default every method and wrap's default, {DEFAULT_METHOD}; known: {','.join(available_methods())})",
    )
    parser.add_argument(
        "--keep",
        type=keep_ratios,
        default=list(DEFAULT_KEEP_RATIOS),
        help=f"comma-separated keep ratios in (0, 1] (default {','.join(f'{k:g}' for k in DEFAULT_KEEP_RATIOS)})",
    )
    parser.add_argument(
        "--table", metavar="DIR", help="HeadTable for the headrouter method (default: its calibration-free fallback)"
    )
    parser.add_argument(
        "--limit", type=positive_int, help="evaluate only the first N items (a benchmark's tasks take turns)"
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        default="eval-results",
        help="output folder (default eval-results); a rerun with the same folder continues its progress.jsonl",
    )
    parser.add_argument(
        "--max-new-tokens",
        type=positive_int,
        help="answer length limit in tokens of items that name none (default: the benchmark's, MMAU and MMAU-Pro 64; "
        f"else {DEFAULT_MAX_NEW_TOKENS}); AudioMarathon's items carry their scripts' own",
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
    add_device_and_attention(parser)
    parser.add_argument("--system-prompt", help="a system turn before each question (default: none)")
    add_truncate_audio(parser)
    parser.add_argument("--threads", type=positive_int, help="torch threads (default: torch's choice)")
    parser.add_argument("--no-plot", action="store_true", help="skip the plot")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _method_specs(text: str) -> list[str]:
    """:func:`~headrouter.cli.argtypes.checked_specs` made as evaluation makes them (``headrouter[oracle]`` too)."""
    from headrouter.evaluation.arguments import method_runs

    return checked_specs(text, method_runs)


def _columns(text: str) -> dict[str, str]:
    """``field=column,...`` as a dict."""
    pairs = [part.split("=", 1) for part in text.split(",")]
    if any(len(pair) != 2 or not all(x.strip() for x in pair) for pair in pairs):
        raise argparse.ArgumentTypeError(f"expected FIELD=COLUMN pairs separated by commas, got {text!r}")
    return {field.strip(): column.strip() for field, column in pairs}


def run(args: argparse.Namespace) -> int:
    """Check the input, load the model, evaluate (resuming OUT/progress.jsonl), write the report and print its tables
    and files; Ctrl-C stops with what was done kept."""
    from pathlib import Path

    import torch

    from headrouter.adapters import load_model, load_processor
    from headrouter.device import resolve_attention, resolve_device
    from headrouter.evaluation import report
    from headrouter.evaluation.benchmarks import BENCHMARKS, load_benchmark
    from headrouter.evaluation.runner import DEFAULT_MAX_NEW_TOKENS, check_checkpoint, evaluate
    from headrouter.methods.headrouter.table import HeadTable

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    # everything that can be checked without the weights is checked first: a typo fails before a minute of loading
    hf_options = {"columns": args.columns, "split": args.split, "metric": args.metric}
    if args.benchmark == "hf":
        hf_options["audio_dir"] = out / "audio"
    items = load_benchmark(args.benchmark, args.data, limit=args.limit, **hf_options)
    max_new_tokens = args.max_new_tokens or BENCHMARKS[args.benchmark].max_new_tokens or DEFAULT_MAX_NEW_TOKENS
    table = HeadTable.from_pretrained(args.table) if args.table is not None else None
    check_checkpoint(args.model, args.prune_layer, table)
    device = resolve_device(args.device)
    attention = resolve_attention(args.attn, device)
    model = load_model(args.model, dtype=args.dtype, attn_implementation=attention).to(device)
    processor = load_processor(args.model)
    journal = out / "progress.jsonl"
    print(
        f"headrouter eval: {len(items)} items ({args.benchmark}) x (unpruned + {len(args.methods)} method(s) x "
        f"{len(args.keep)} keep ratio(s)); output in {out}, progress in {journal}",
        flush=True,
    )
    try:
        results = evaluate(
            model,
            processor,
            items,
            args.methods,
            args.keep,
            table=table,
            max_new_tokens=max_new_tokens,
            batch_size=args.batch_size,
            prune_layer=args.prune_layer,
            system_prompt=args.system_prompt,
            truncate_audio=args.truncate_audio,
            progress=not args.no_progress,
            journal=journal,
        )
    except KeyboardInterrupt:
        print(f"\ninterrupted: the answers so far are in {journal}; run the same command again to continue")
        return 130
    results["settings"].update(
        model=str(args.model), data=str(args.data), benchmark=args.benchmark, limit=args.limit, table_path=args.table
    )
    paths = report.write_report(results, out, plot=not args.no_plot)
    counts = results["counts"]
    resumed = results["settings"]["resumed"]
    print(f"\n{counts['evaluated']} of {counts['items']} items evaluated, {counts['skipped']} skipped", end="")
    print(f"; {resumed} answers read back from {journal}" if resumed else "")
    print("\npercent of unpruned, per task, domain and task type (first row: unpruned score x 100):\n")
    print(report.paper_markdown(report.paper_table(results)))
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
