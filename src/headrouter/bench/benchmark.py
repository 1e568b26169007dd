"""Transitional: ``headrouter.cli.bench`` and tests/test_cli.py still import these names from here. The benchmark
lives in the modules beside this one and its names are imported from :mod:`headrouter.bench`; delete this file once
nothing imports ``headrouter.bench.benchmark``."""

from headrouter.bench import (
    QUICK_RUNS,
    add_arguments,
    format_markdown,
    format_targets,
    run_benchmark,
    settings_from_args,
    write_report,
)

__all__ = [
    "QUICK_RUNS",
    "add_arguments",
    "format_markdown",
    "format_targets",
    "run_benchmark",
    "settings_from_args",
    "write_report",
]
