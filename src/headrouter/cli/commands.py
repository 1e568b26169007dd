"""The ``headrouter`` command.

``headrouter demo``: the shipped proving-ground model answers the shipped clips, unpruned and pruned (CPU, no
downloads). ``headrouter eval``: accuracy, percent of unpruned, audio tokens and prefill time of every method and keep
ratio on an items file. ``headrouter timing``: prefill time of a tiny random-weight model on long audio.
``headrouter bench``: prefill speed, KV-cache bytes and scoring cost. ``headrouter calibrate``: profile a local
checkpoint's heads and save a HeadTable. ``headrouter inspect``: draw a saved HeadTable's head weights.
``headrouter tasks``: write a synthetic listening-task items file (the proving ground's test and calibration sets).
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from headrouter import __version__
from headrouter.cli.argtypes import items, keep_ratios, known_names, method_names, number, positive_int
from headrouter.config import DEFAULT_PRUNE_LAYER
from headrouter.evaluation.demo import (
    CLIP_KEEP_RATIOS,
    CLIP_MAX_NEW_TOKENS,
    CLIP_METHODS,
    DEFAULT_KEEP_RATIOS,
    DEFAULT_METHODS,
    DEFAULT_RUNS,
    DEFAULT_SECONDS,
    DEMO_LAYERS,
    describe_machine,
    run_timing,
)
from headrouter.methods import available_methods
from headrouter.methods.headrouter.calibration import DEFAULT_TASKS

EVAL_KEEP_RATIOS = (1.0, 0.7, 0.5, 0.3, 0.1)
EVAL_MAX_NEW_TOKENS = 16
TRUNCATE_HELP = (
    "cut audio at the feature extractor's chunk_length (30 s for Whisper's), as the processor does by default; "
    "without it every clip is heard whole"
)


FAILURES = (ValueError, TypeError, OSError, ImportError)
"""What the library raises for bad input (a missing or malformed file, a wrong setting, a missing extra): every
subcommand reports these as ``headrouter <subcommand>: error: <message>`` and exit code 2, as argparse does for bad
arguments. Anything else is a bug and keeps its traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``headrouter`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit code.

    Bad arguments exit through argparse (usage and ``headrouter <subcommand>: error: ...``, code 2); the library's
    errors about the input (:data:`FAILURES`) are printed the same way, without a traceback, and return 2.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except FAILURES as error:
        print(f"headrouter {args.command}: error: {str(error) or type(error).__name__}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="headrouter",
        description="Training-free audio-token pruning inside large audio language models (Qwen2.5-Omni).",
    )
    parser.add_argument("--version", action="version", version=f"headrouter {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_demo(commands)
    _add_eval(commands)
    _add_timing(commands)
    _add_bench(commands)
    _add_calibrate(commands)
    _add_inspect(commands)
    _add_tasks(commands)
    return parser


def _add_demo(commands) -> None:
    demo = commands.add_parser(
        "demo",
        help="the shipped small model answers the shipped clips, unpruned and pruned (CPU, no downloads)",
        description=(
            "Loads the proving-ground model shipped with headrouter (a small Qwen2.5-Omni-architecture model trained "
            "on synthetic listening tasks) and answers the shipped demo clips unpruned and with every method at every "
            "keep ratio, printing per clip the question, each answer, whether it is right, the audio tokens kept and "
            "the prefill time. --model and --data run it on other checkpoints and items."
        ),
    )
    demo.add_argument("--model", metavar="DIR", help="a local checkpoint directory (default: the shipped model)")
    demo.add_argument("--data", metavar="ITEMS", help="a JSON-lines items file (default: the shipped clips)")
    _add_methods_and_keep(demo, CLIP_METHODS, CLIP_KEEP_RATIOS)
    demo.add_argument(
        "--table",
        metavar="DIR",
        help="HeadTable for the headrouter method (default: the shipped one with the shipped model; with --model, "
        "none: the calibration-free fallback)",
    )
    demo.add_argument("--limit", type=positive_int, help="answer only the first N clips")
    demo.add_argument(
        "--max-new-tokens",
        type=positive_int,
        default=CLIP_MAX_NEW_TOKENS,
        help=f"answer length limit in tokens (default {CLIP_MAX_NEW_TOKENS})",
    )
    demo.add_argument(
        "--prune-layer",
        type=positive_int,
        default=DEFAULT_PRUNE_LAYER,
        help=f"first pruned decoder layer K (default {DEFAULT_PRUNE_LAYER})",
    )
    demo.set_defaults(run=_demo)


def _add_eval(commands) -> None:
    evaluate = commands.add_parser(
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
    )
    evaluate.add_argument("--model", required=True, metavar="DIR", help="a local Qwen2.5-Omni checkpoint directory")
    evaluate.add_argument("--data", required=True, metavar="ITEMS", help="a JSON-lines items file")
    _add_methods_and_keep(evaluate, available_methods(), EVAL_KEEP_RATIOS)
    evaluate.add_argument(
        "--table", metavar="DIR", help="HeadTable for the headrouter method (default: its calibration-free fallback)"
    )
    evaluate.add_argument("--limit", type=positive_int, help="evaluate only the first N items")
    evaluate.add_argument("--out", metavar="DIR", default="eval-results", help="output folder (default eval-results)")
    evaluate.add_argument(
        "--max-new-tokens",
        type=positive_int,
        default=EVAL_MAX_NEW_TOKENS,
        help=f"answer length limit in tokens (default {EVAL_MAX_NEW_TOKENS})",
    )
    evaluate.add_argument(
        "--batch-size", type=positive_int, default=1, help="items generated together, left-padded (default 1)"
    )
    evaluate.add_argument(
        "--prune-layer",
        type=positive_int,
        default=DEFAULT_PRUNE_LAYER,
        help=f"first pruned decoder layer K (default {DEFAULT_PRUNE_LAYER})",
    )
    evaluate.add_argument("--dtype", default="auto", help="model dtype (default: the checkpoint's)")
    evaluate.add_argument("--system-prompt", help="a system turn before each question (default: none)")
    evaluate.add_argument("--truncate-audio", action="store_true", help=TRUNCATE_HELP)
    evaluate.add_argument("--threads", type=positive_int, help="torch threads (default: torch's choice)")
    evaluate.add_argument("--no-plot", action="store_true", help="skip the plot")
    evaluate.add_argument("--no-progress", action="store_true", help="no progress bar")
    evaluate.set_defaults(run=_eval)


def _add_timing(commands) -> None:
    timing = commands.add_parser(
        "timing",
        help="prefill time of a tiny random-weight model, unpruned and pruned (CPU, no downloads)",
        description=(
            "Builds a tiny random-weight Qwen2.5-Omni thinker and a prompt with SECONDS of audio "
            "(25 audio tokens per second), then times prefill (one forward pass, median of RUNS after a warm-up) "
            "unpruned and for every method and keep ratio."
        ),
    )
    timing.add_argument(
        "--seconds",
        type=_seconds,
        default=DEFAULT_SECONDS,
        help=f"seconds of audio in the prompt, >= 1, 25 audio tokens each (default {DEFAULT_SECONDS:g})",
    )
    _add_methods_and_keep(timing, DEFAULT_METHODS, DEFAULT_KEEP_RATIOS)
    timing.add_argument(
        "--runs",
        type=positive_int,
        default=DEFAULT_RUNS,
        help=f"timed prefill passes per setting (default {DEFAULT_RUNS})",
    )
    timing.add_argument(
        "--prune-layer",
        type=_layer,
        default=DEFAULT_PRUNE_LAYER,
        help=f"first pruned decoder layer K, 1 to {DEMO_LAYERS - 1} for the tiny model (default {DEFAULT_PRUNE_LAYER})",
    )
    timing.add_argument(
        "--attn", choices=("eager", "sdpa"), default="sdpa", help="attention implementation (default sdpa)"
    )
    timing.set_defaults(run=_timing)


def _add_bench(commands) -> None:
    bench = commands.add_parser(
        "bench",
        help="prefill speed, KV-cache bytes and scoring cost of pruning, beside the FLOP ideal",
        description="Prefill speed-up, KV-cache bytes, scoring time and memory of pruning at several audio lengths.",
    )
    from headrouter.bench.benchmark import add_arguments

    add_arguments(bench)
    bench.set_defaults(run=_bench)


def _add_calibrate(commands) -> None:
    calibrate = commands.add_parser(
        "calibrate",
        help="profile per-head audio attention on a calibration set and save a HeadTable",
        description="One forward pass per sample; writes head_table.safetensors and head_table.json to OUT.",
    )
    calibrate.add_argument("--model", required=True, help="local Qwen2.5-Omni checkpoint directory")
    calibrate.add_argument(
        "--data",
        required=True,
        help='JSON lines: {"audio": PATH, "prompt": TEXT, "task": TYPE} per sample, or evaluation items',
    )
    calibrate.add_argument("--out", required=True, help="directory for the table")
    calibrate.add_argument(
        "--tasks",
        type=items,
        default=list(DEFAULT_TASKS),
        help=f"comma-separated task types; each needs >= 1 sample in --data (default {','.join(DEFAULT_TASKS)})",
    )
    calibrate.add_argument("--bins", type=positive_int, default=16, help="positional-prior bins (default 16)")
    calibrate.add_argument(
        "--coverage", type=_share, default=0.8, help="share of importance the kept heads hold, (0, 1] (default 0.8)"
    )
    calibrate.add_argument("--dtype", default="auto", help="model dtype (default: the checkpoint's)")
    calibrate.add_argument("--truncate-audio", action="store_true", help=TRUNCATE_HELP)
    calibrate.set_defaults(run=_calibrate)


def _add_tasks(commands) -> None:
    from headrouter.evaluation.tasks.generator import (
        DEFAULT_LONG_FRACTION,
        DEFAULT_MAX_SECONDS,
        DEFAULT_MIN_SECONDS,
        TASKS,
    )

    tasks = commands.add_parser(
        "tasks",
        help="write synthetic listening items (speech by espeak-ng, numpy sounds) for eval and calibrate",
        description=(
            "Writes PER_TASK items of every task to OUT/items.jsonl and their 16 kHz WAVs to OUT/clips/, "
            "deterministic by SEED. Tasks: " + ", ".join(f"{name} ({spec.task_type})" for name, spec in TASKS.items())
        ),
    )
    longer = ", ".join(f"{n}: {t.min_seconds:g}" for n, t in TASKS.items() if t.min_seconds > DEFAULT_MIN_SECONDS)
    tasks.add_argument("--out", required=True, metavar="DIR", help="output folder")
    tasks.add_argument("--per-task", type=positive_int, required=True, help="items per task")
    tasks.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    tasks.add_argument(
        "--tasks",
        type=functools.partial(known_names, known=list(TASKS), what="task"),
        help=f"comma-separated task names (default all: {','.join(TASKS)})",
    )
    tasks.add_argument(
        "--max-seconds",
        type=functools.partial(_at_least, DEFAULT_MIN_SECONDS, why="the shortest clip a task draws"),
        default=DEFAULT_MAX_SECONDS,
        help=(
            f"longest clip in seconds, >= {DEFAULT_MIN_SECONDS:g} and >= the shortest clip of every task asked for "
            f"({longer}); a clip whose content is longer (a 3 s chord) runs 0.5 s past the content "
            f"(default {DEFAULT_MAX_SECONDS:g})"
        ),
    )
    tasks.add_argument(
        "--long-fraction",
        type=_fraction,
        default=DEFAULT_LONG_FRACTION,
        help=f"share of long clips, [0, 1] (default {DEFAULT_LONG_FRACTION:g})",
    )
    tasks.set_defaults(run=_tasks)


def _add_inspect(commands) -> None:
    inspect = commands.add_parser("inspect", help="plot a HeadTable's head weights per task type")
    inspect.add_argument("table", help="a directory written by calibrate")
    inspect.add_argument("--out", required=True, help="image file to write, e.g. heads.png")
    inspect.set_defaults(run=_inspect)


def _add_methods_and_keep(parser: argparse.ArgumentParser, methods: Sequence[str], keep: Sequence[float]) -> None:
    parser.add_argument(
        "--methods",
        type=method_names,
        default=list(methods),
        help=f"comma-separated scoring methods (default {','.join(methods)}; known: {','.join(available_methods())})",
    )
    parser.add_argument(
        "--keep",
        type=keep_ratios,
        default=list(keep),
        help=f"comma-separated keep ratios in (0, 1] (default {','.join(f'{k:g}' for k in keep)})",
    )


# ---------------------------------------------------------------------- demo


def _demo(args: argparse.Namespace) -> int:
    from transformers.utils import logging as transformers_logging

    from headrouter.evaluation.demo import run_clips

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    transformers_logging.disable_progress_bar()  # the demo's output is the answers
    print(f"headrouter {__version__} demo: {describe_machine()}", flush=True)
    run = run_clips(
        args.model,
        args.data,
        args.methods,
        args.keep,
        table=args.table,
        max_new_tokens=args.max_new_tokens,
        prune_layer=args.prune_layer,
        limit=args.limit,
    )
    results = run.results
    settings = results["settings"]
    table = settings["table_path"] or "none (calibration-free fallback)"
    print(
        f"model {settings['model']} ({settings['model_class']}, {settings['dtype']}), loaded in "
        f"{run.load_seconds:.1f} s; {results['counts']['evaluated']} clips from {settings['data']}; "
        f"prune layer {settings['prune_layer']}"
        + (f"; headrouter's head table: {table}" if "headrouter" in args.methods else "")
    )
    for index, item in enumerate(run.items, 1):
        print()
        print(format_clip(index, len(run.items), item, [p for p in results["predictions"] if p["id"] == item.id]))
    for skipped in results["skipped"]:
        print(f"\nskipped {skipped['id']} ({skipped['audio']}): {skipped['error']}")
    print()
    print(format_summary(results["overall"]))
    print(f"\n{run.run_seconds:.1f} s for {len(results['predictions'])} answers")
    return 0


def format_clip(number: int, total: int, item, rows: Sequence[dict]) -> str:
    """One clip of the demo: its question and the answer of every setting, as text."""
    from headrouter.evaluation.report import setting_name

    lines = [f"[{number}/{total}] {item.id} ({item.task}, {item.task_type})", f"  Q: {item.question}"]
    if item.choices:
        lines.append(f"     choices: {' | '.join(item.choices)}")
    lines.append(f"  expected: {item.answer}")
    if not rows:
        return "\n".join([*lines, "  (skipped)"])
    table = [
        (
            setting_name(r),
            repr(r["prediction"]),
            f"WER {r['raw']:.2f}" if r["metric"] == "wer" else ("yes" if r["score"] == 1.0 else "no"),
            f"{r['audio_tokens_before']:,} -> {r['audio_tokens_after']:,}",
            f"{r['prefill_ms']:.1f}",
        )
        for r in rows
    ]
    header = ("setting", "answer", "correct", "audio tokens", "prefill ms")
    return "\n".join(lines + ["  " + line for line in _text_table(header, table, (True, True, True, False, False))])


def format_summary(rows: Sequence[dict]) -> str:
    """The demo's totals per setting, as text."""
    from headrouter.evaluation.report import setting_name

    table = [
        (
            setting_name(r),
            f"{r['score']:.3f}",
            "-" if r["percent_of_unpruned"] is None else f"{r['percent_of_unpruned']:.1f}",
            f"{r['audio_tokens_before']:.0f} -> {r['audio_tokens_after']:.0f}",
            f"{r['prefill_ms']:.1f}",
        )
        for r in rows
    ]
    header = ("setting", "score", "% of unpruned", "mean audio tokens", "mean prefill ms")
    return "\n".join(_text_table(header, table, (True, False, False, False, False)))


# ---------------------------------------------------------------------- eval


def _eval(args: argparse.Namespace) -> int:
    import torch

    from headrouter.adapters.qwen2_5_omni.loading import load_model, load_processor
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
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    if "plot" not in paths and not args.no_plot:
        print("plot: skipped (matplotlib is not installed: pip install 'headrouter[plot]')")
    return 0


# ---------------------------------------------------------------------- timing, bench, calibrate, inspect


def _timing(args: argparse.Namespace) -> int:
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


def _bench(args: argparse.Namespace) -> int:
    """Run the benchmark, print the report and where the files went."""
    from headrouter.bench.benchmark import (
        format_markdown,
        format_targets,
        run_benchmark,
        settings_from_args,
        write_report,
    )

    settings = settings_from_args(args)
    stem = args.name or ("bench-quick" if args.quick else "bench")
    print(
        f"headrouter bench: {len(settings.lengths)} length(s) x {len(settings.methods)} method(s) x "
        f"{len(settings.keep_ratios)} keep ratio(s), {settings.runs} run(s) each; output in {args.out}/{stem}.*",
        flush=True,
    )
    results = run_benchmark(settings)
    paths = write_report(results, args.out, stem, plot=not args.no_plot)
    print()
    print(format_markdown(results))
    print("Targets:")
    for line in format_targets(results["targets"]):
        print(f"  {line}")
    print(f"\ntotal time {results['total_seconds'] / 60:.1f} min")
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    if "plot" not in paths and not args.no_plot:
        print("plot: skipped (matplotlib is not installed: pip install 'headrouter[plot]')")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from headrouter.adapters.qwen2_5_omni.loading import load_model, load_processor
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


def _inspect(args: argparse.Namespace) -> int:
    from headrouter.methods.headrouter.table import HeadTable

    figure = HeadTable.from_pretrained(args.table).plot()
    figure.savefig(args.out, dpi=120, bbox_inches="tight")
    print(f"wrote {args.out}")
    return 0


def _tasks(args: argparse.Namespace) -> int:
    from headrouter.evaluation.tasks.generator import generate

    written = generate(
        args.out,
        args.per_task,
        args.seed,
        args.tasks,
        max_seconds=args.max_seconds,
        long_fraction=args.long_fraction,
    )
    families = {}
    for item in written:
        families[item.task_type] = families.get(item.task_type, 0) + 1
    counts = ", ".join(f"{family}: {n}" for family, n in sorted(families.items()))
    print(f"wrote {len(written)} items ({counts}) to {args.out}/items.jsonl")
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
    return "\n".join(_text_table(header, lines, (True, False, False, False, False)))


def _text_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: Sequence[bool]) -> list[str]:
    """Fixed-width lines: the header, a rule, the rows; ``left`` says which columns are left-aligned."""
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if lft else c.rjust(w) for c, w, lft in zip(cells, widths, left, strict=True)
        ).rstrip()

    return [fmt(header), "  ".join("-" * w for w in widths), *(fmt(line) for line in rows)]


# ---------------------------------------------------------------------- argument types


def _seconds(text: str) -> float:
    return _at_least(1.0, text, why="second")


def _at_least(low: float, text: str, why: str) -> float:
    """A finite number >= ``low``; the error says the bound and ``why``."""
    value = number(float, text)
    if not low <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be at least {low:g} ({why}), got {text}")
    return value


def _layer(text: str) -> int:
    value = number(int, text)
    if not 1 <= value <= DEMO_LAYERS - 1:
        raise argparse.ArgumentTypeError(f"must be between 1 and {DEMO_LAYERS - 1} for the tiny model, got {value}")
    return value


def _share(text: str) -> float:
    value = number(float, text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _fraction(text: str) -> float:
    value = number(float, text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value
