"""What the per-item selection benchmarks on the long proving ground share (evidence_recall.py,
output_divergence.py): their arguments, the items and methods of a run, and the resumable per-item journal."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from headrouter.evaluation.arguments import method_runs, method_specs
from headrouter.evaluation.runner import load_items
from headrouter.methods.base import split_specs
from headrouter.methods.headrouter import HeadRouterMethod
from headrouter.methods.headrouter.table import HeadTable

FAMILIES = ("acoustic", "semantic")


def add_arguments(parser: argparse.ArgumentParser, methods: str, per_task: int, out: Path) -> None:
    """``--model``, ``--table``, ``--data``, ``--per-task``, ``--methods``, ``--keep`` and ``--out``."""
    parser.add_argument("--model", type=Path, default=Path("benchmarks/models/proving_ground_long"))
    parser.add_argument("--table", type=Path, default=Path("benchmarks/models/proving_ground_long"))
    parser.add_argument("--data", type=Path, default=Path("data/long_heldout/items.jsonl"))
    parser.add_argument("--per-task", type=int, default=per_task)
    parser.add_argument("--methods", default=methods, help=f"method specs, comma-separated (default {methods})")
    parser.add_argument("--keep", default="0.3,0.1")
    parser.add_argument("--out", type=Path, default=out)


def run_plan(args: argparse.Namespace) -> tuple[list[float], list[str], dict, list]:
    """``(keep ratios, method specs, their runs, items)`` of the arguments; exits if the items file is missing."""
    if not args.data.is_file():
        sys.exit(f"{args.data} not found: make it with the headrouter tasks command in proving_ground_long.py")
    specs = method_specs(split_specs(args.methods))
    runs, _ = method_runs(specs)
    return [float(k) for k in args.keep.split(",")], specs, runs, pick(load_items(args.data), args.per_task)


def pick(items: list, per_task: int) -> list:
    """The first ``per_task`` items of every task, in file order."""
    seen: dict[str, int] = {}
    chosen = []
    for item in items:
        if seen.get(item.task, 0) < per_task:
            seen[item.task] = seen.get(item.task, 0) + 1
            chosen.append(item)
    return chosen


def methods_for(item, runs: dict, table: HeadTable, compare: HeadTable | None) -> dict:
    """The methods, by row name, for one item (oracle routing takes the item's own task type); ``compare`` adds
    ``headrouter`` with that table as ``headrouter[compare]``."""
    methods = {}
    for spec, run in runs.items():
        [(_, method)] = run.groups([item])
        methods[spec] = method.with_table(table) if method.uses_table else method
    if compare is not None:
        methods["headrouter[compare]"] = HeadRouterMethod(table=compare)
    return methods


def open_journal(out: Path, settings: dict, defaults: dict | None = None) -> tuple[Path, list[dict]]:
    """``OUT/per_item.jsonl`` and the rows it holds, started with ``settings`` if new; exits if it holds a run of other
    settings (``defaults`` fill the settings of journals written before those keys existed)."""
    journal = out / "per_item.jsonl"
    out.mkdir(parents=True, exist_ok=True)
    if not journal.is_file():
        journal.write_text(json.dumps({"settings": settings}) + "\n")
        return journal, []
    lines = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    if (defaults or {}) | lines[0]["settings"] != settings:
        sys.exit(f"{journal} holds another run's results: give another --out or remove the file")
    return journal, lines[1:]
