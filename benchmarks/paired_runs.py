"""Two evaluation runs on the same long held-out items, paired: one method of run A against one of run B (another
table, another version), as percent of unpruned and as the paired difference in points, per task family and keep
ratio, over all tasks and over the tasks the model answers above chance unpruned.

    python benchmarks/paired_runs.py benchmarks/results/proving_ground_long/main headrouter \\
        benchmarks/results/proving_ground_long/fidelity_z0 headrouter [--data data/long_heldout/items.jsonl]

Each run is a ``headrouter eval`` output folder (its ``predictions.jsonl``); both must hold the unpruned answers of
the same items. The intervals are the summary's (proving_ground_long.py): items resampled within each task, the same
resample for both runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from proving_ground_long import FAMILIES, _interval, above_chance, chance_levels, paired_lead, percent_on

KEEPS = (0.7, 0.5, 0.3, 0.1)


def load(run: Path, method: str, label: str) -> list[dict]:
    """The run's unpruned answers and ``method``'s, the latter relabelled ``label``."""
    rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines() if line.strip()]
    return [dict(r, method=label) if r["method"] == method else r for r in rows if r["method"] in ("none", method)]


def compare(a: list[dict], b: list[dict], items_file: Path) -> str:
    """Markdown: percent of unpruned of A and B and A minus B, paired, over all tasks and the above-chance ones."""
    unpruned = {(r["id"], r["keep_ratio"]): r["score"] for r in a if r["method"] == "none"}
    other = {(r["id"], r["keep_ratio"]): r["score"] for r in b if r["method"] == "none"}
    if unpruned != other:
        raise SystemExit("the two runs' unpruned answers differ: they are not runs of the same model on the same items")
    rows = a + [r for r in b if r["method"] != "none"]
    every = {r["task"] for r in rows}
    answered = set(above_chance(rows, chance_levels(items_file)))
    lines = []
    for title, tasks in (("all tasks", every), ("tasks answered above chance", answered)):
        lines += ["", f"## {title}", "", "| family | | " + " | ".join(f"keep {k}" for k in KEEPS) + " |"]
        lines.append("|---" * (len(KEEPS) + 2) + "|")
        for family in FAMILIES:
            names = {r["task"] for r in rows if r["task_type"] == family} & tasks
            for label in ("A", "B"):
                cells = [percent_on(rows, family, label, k, names) for k in KEEPS]
                lines.append(f"| {family} | {label}, % of unpruned | " + " | ".join(cells) + " |")
            cells = []
            for k in KEEPS:
                lead, interval = paired_lead(rows, family, "A", "B", k, names)
                cells.append(f"{lead:+.1f}{_interval(interval, sign='+')}")
            lines.append(f"| {family} | A - B, points | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_a", type=Path)
    parser.add_argument("method_a")
    parser.add_argument("run_b", type=Path)
    parser.add_argument("method_b")
    parser.add_argument("--data", type=Path, default=Path("data/long_heldout/items.jsonl"))
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    args = parser.parse_args()
    text = f"# A = {args.run_a} {args.method_a}, B = {args.run_b} {args.method_b}\n"
    text += compare(load(args.run_a, args.method_a, "A"), load(args.run_b, args.method_b, "B"), args.data)
    if args.out is not None:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
