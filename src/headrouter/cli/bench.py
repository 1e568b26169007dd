"""``headrouter bench``: prefill speed-up, KV-cache bytes and scoring cost of pruning; :mod:`headrouter.bench` owns
its arguments and report."""

from __future__ import annotations

import argparse

from headrouter.cli.text import written_files


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    """Add ``headrouter bench`` to ``subcommands``."""
    subcommands.add_parser(
        "bench",
        help="prefill speed, KV-cache bytes and scoring cost of pruning, beside the FLOP ideal",
        description="Prefill speed-up, KV-cache bytes, scoring time and memory of pruning at several audio lengths.",
        arguments=_arguments,
    ).set_defaults(run=run)


def _arguments(parser: argparse.ArgumentParser) -> None:
    from headrouter.bench import add_arguments

    add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print the report and where the files went."""
    from headrouter.bench import format_markdown, format_targets, run_benchmark, settings_from_args, write_report

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
    print(written_files(paths, plot=not args.no_plot))
    return 0
