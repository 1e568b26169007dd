"""``headrouter demo``: the shipped proving-ground model answers the shipped clips, unpruned and pruned."""

from __future__ import annotations

import argparse
import logging
import shlex
import textwrap
from collections.abc import Sequence

from headrouter import __version__
from headrouter.cli.argtypes import positive_int
from headrouter.cli.options import add_methods_and_keep, add_prune_layer
from headrouter.cli.text import text_table


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    """Add ``headrouter demo`` to ``subcommands``."""
    subcommands.add_parser(
        "demo",
        help="the shipped small model answers the shipped clips, unpruned and pruned (CPU, no downloads)",
        description=(
            "Loads the proving-ground model shipped with headrouter (a small Qwen2.5-Omni-architecture model trained "
            "on synthetic listening tasks) and answers the shipped demo clips unpruned and with every method at every "
            "keep ratio, printing per clip the question, each answer, whether it is right, the audio tokens kept and "
            "the prefill time. --model and --data run it on other checkpoints and items."
        ),
        arguments=_arguments,
    ).set_defaults(run=run)


def _arguments(parser: argparse.ArgumentParser) -> None:
    from headrouter.evaluation.demo import CLIP_KEEP_RATIOS, CLIP_METHODS
    from headrouter.evaluation.runner import DEFAULT_MAX_NEW_TOKENS

    parser.add_argument("--model", metavar="DIR", help="a local checkpoint directory (default: the shipped model)")
    parser.add_argument("--data", metavar="ITEMS", help="a JSON-lines items file (default: the shipped clips)")
    add_methods_and_keep(parser, CLIP_METHODS, CLIP_KEEP_RATIOS)
    parser.add_argument(
        "--table",
        metavar="DIR",
        help="HeadTable for the headrouter method (default: the shipped one with the shipped model; with --model, "
        "none: the calibration-free fallback)",
    )
    parser.add_argument("--limit", type=positive_int, help="answer only the first N clips")
    parser.add_argument(
        "--max-new-tokens",
        type=positive_int,
        default=DEFAULT_MAX_NEW_TOKENS,
        help=f"answer length limit in tokens (default {DEFAULT_MAX_NEW_TOKENS})",
    )
    add_prune_layer(parser)


def run(args: argparse.Namespace) -> int:
    """Answer the clips with every setting; print each clip's answers, then the totals per setting."""
    from transformers.utils import logging as transformers_logging

    from headrouter.evaluation.demo import run_clips
    from headrouter.machine import describe_machine
    from headrouter.methods import get_method

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    transformers_logging.disable_progress_bar()  # the demo's output is the answers
    print(f"headrouter {__version__} demo: {describe_machine()}", flush=True)
    clips = run_clips(
        args.model,
        args.data,
        args.methods,
        args.keep,
        table=args.table,
        max_new_tokens=args.max_new_tokens,
        prune_layer=args.prune_layer,
        limit=args.limit,
    )
    results = clips.results
    settings = results["settings"]
    table = settings["table_path"] or "none (calibration-free fallback)"
    print(
        f"model {settings['model']} ({settings['model_class']}, {settings['dtype']}), loaded in "
        f"{clips.load_seconds:.1f} s; {results['counts']['evaluated']} clips from {settings['data']}; "
        f"prune layer {settings['prune_layer']}"
        + (f"; headrouter's head table: {table}" if any(get_method(m).uses_table for m in args.methods) else "")
    )
    for index, item in enumerate(clips.items, 1):
        print()
        print(format_clip(index, len(clips.items), item, [p for p in results["predictions"] if p["id"] == item.id]))
    for skipped in results["skipped"]:
        print(f"\nskipped {skipped['id']} ({skipped['audio']}): {skipped['error']}")
    print()
    print(format_summary(results["overall"]))
    print(f"\n{clips.run_seconds:.1f} s for {len(results['predictions'])} answers")
    if clips.items and args.data is None and args.model is None:
        longest = max(clips.items, key=lambda item: item.extra.get("seconds", 0.0))
        print(
            f"\nThe audio tokens each method kept of {longest.id}, along its spectrogram (pip install "
            f"'headrouter[plot]'):\n  headrouter show {longest.id} --methods {shlex.quote(','.join(args.methods))} "
            f"--keep {min(args.keep):g} --out kept.png"
        )
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
    return "\n".join([*lines, textwrap.indent(text_table(header, table, (True, True, True, False, False)), "  ")])


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
    return text_table(header, table, (True, False, False, False, False))
