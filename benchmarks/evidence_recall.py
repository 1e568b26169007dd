"""Evidence recall on the long proving ground: the share of the audio tokens holding each item's answer that every
method keeps (headrouter.evaluation.evidence), and the share of the evidence events of which it keeps at least a
tenth of the tokens (events covered), at keep 0.3 and 0.1, per task family, with 95% bootstrap intervals.

    python benchmarks/evidence_recall.py --model benchmarks/models/proving_ground_long \
        --table benchmarks/models/proving_ground_long [--compare-table DIR] [--per-task 30] [--methods SPECS]

One prefill per item, method and keep ratio (no generation). ``--methods`` takes method specs as ``headrouter eval``
does (``headrouter[diversity=0.5]``, ``headrouter[oracle]``; the table goes to every method that uses one); default:
the baselines, headrouter and headrouter[oracle]. ``--compare-table`` adds ``headrouter`` with a second table (for
example the attention-weighted table of an earlier commit) as the row ``headrouter[compare]``. ``--answers`` (a
grid's ``predictions.jsonl`` over the same items, such as proving_ground_long.py's main grid) adds whether the items
answered right unpruned stay right, by the share of the evidence each method kept (:func:`answers_by_recall`). Every
item's recalls are appended to ``OUT/per_item.jsonl`` as it finishes (its first line the settings): a stopped run
continues where it stopped, and a run with other settings is refused. ``OUT/results.md`` holds the tables.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from per_item import FAMILIES, add_arguments, methods_for, open_journal, run_plan
from tqdm.auto import tqdm

from headrouter.adapters import load_model, load_processor
from headrouter.evaluation.bootstrap import mean_replicates, percentile_interval, resample_indices
from headrouter.evaluation.evidence import COVERED_LEAST, events_covered, evidence_recall, evidence_spans
from headrouter.evaluation.journal import weights_fingerprint
from headrouter.evaluation.tasks.items import format_prompt
from headrouter.methods.base import split_specs
from headrouter.methods.headrouter.table import HeadTable
from headrouter.visual import kept_tokens

METHODS = "random,frame,fastv,dart,segment,headrouter,headrouter[oracle]"
BUCKETS = ((0.0, 0.1), (0.1, 0.5), (0.5, 1.0))
"""Evidence recall bands of :func:`answers_by_recall`: [low, high), the last one closed."""


def summarize(rows: list[dict], keep: list[float], key: str = "recall") -> str:
    """Mean ``key`` (``recall``, or ``covered``: the share of evidence events covered) x 100 [95% interval] per method
    and (family, keep ratio), and per task at the lowest ratio."""
    names = list(rows[0][key][str(keep[0])])
    header = "| method | " + " | ".join(f"{f} {k:g}" for f in FAMILIES for k in keep) + " |"
    lines = [header, "|---" * (1 + 2 * len(keep)) + "|"]
    for name in names:
        cells = []
        for family in FAMILIES:
            for k in keep:
                values = [r[key][str(k)][name] for r in rows if r["task_type"] == family]
                interval = percentile_interval(mean_replicates(values, resample_indices(len(values), family)))
                cells.append(f"{100 * np.mean(values):.1f} [{100 * interval[0]:.0f}, {100 * interval[1]:.0f}]")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    tasks = list(dict.fromkeys(r["task"] for r in rows))  # in file order
    low = str(min(keep))
    lines += ["", f"Per task at keep {low} (mean {key} x 100):", ""]
    lines += ["| method | " + " | ".join(tasks) + " |", "|---" * (1 + len(tasks)) + "|"]
    for name in names:
        cells = [f"{100 * np.mean([r[key][low][name] for r in rows if r['task'] == t]):.1f}" for t in tasks]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def answers_by_recall(rows: list[dict], predictions: list[dict]) -> str:
    """Markdown: of the items answered right unpruned (score 1 in ``predictions``, a grid's rows over the same
    items), the share answered right under a method and keep ratio, by the share of the evidence it kept
    (:data:`BUCKETS`); per task and family, pooled over every (method, keep ratio) both hold. A task with no item
    answered right (a partial score is not right) shows 0 items."""
    score = {(p["id"], p["method"], p["keep_ratio"]): p["score"] for p in predictions}
    pooled: dict[str, list[tuple[float, float]]] = {}
    right = {}
    for row in rows:
        if score.get((row["id"], "none", None)) != 1.0:
            continue
        for group in (row["task"], row["task_type"]):
            right.setdefault(group, set()).add(row["id"])
        for keep, recalls in row["recall"].items():
            for method, recall in recalls.items():
                answer = score.get((row["id"], method, float(keep)))
                if answer is not None:
                    for group in (row["task"], row["task_type"]):
                        pooled.setdefault(group, []).append((recall, answer))
    bands = [f"{lo:g}-{hi:g}" for lo, hi in BUCKETS]
    lines = [
        "| task | items right unpruned | " + " | ".join(f"evidence kept {b}" for b in bands) + " |",
        "|---" * (2 + len(BUCKETS)) + "|",
    ]
    for group in [*dict.fromkeys(r["task"] for r in rows), *FAMILIES]:
        pairs = np.array(pooled.get(group, []), dtype=float).reshape(-1, 2)
        cells = []
        for i, (lo, hi) in enumerate(BUCKETS):
            band = (pairs[:, 0] >= lo) & ((pairs[:, 0] < hi) | (i == len(BUCKETS) - 1))
            cells.append(f"{100 * pairs[band, 1].mean():.0f}% ({band.sum()})" if band.any() else "- (0)")
        items = len(right.get(group, ()))
        name = f"**{group}**" if group in FAMILIES else group
        lines.append(f"| {name} | {items} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser, METHODS, 30, Path("benchmarks/results/evidence_recall"))
    parser.add_argument("--compare-table", type=Path)
    parser.add_argument("--answers", type=Path, help="a grid's predictions.jsonl over the same items")
    args = parser.parse_args()
    keep, specs, runs, items = run_plan(args)
    model, processor = load_model(args.model), load_processor(args.model)
    table = HeadTable.from_pretrained(args.table)
    compare = HeadTable.from_pretrained(args.compare_table) if args.compare_table else None
    settings = {
        "model": str(args.model),
        "model_weights": weights_fingerprint(model),
        "table": table.meta["created"],
        "compare_table": compare.meta["created"] if compare else None,
        "keep": keep,
        "items": [item.id for item in items],
        "methods": specs,
    }
    # journals from before --methods ran the default methods
    journal, rows = open_journal(args.out, settings, {"methods": split_specs(METHODS)})
    done = {row["id"] for row in rows}
    with journal.open("a") as out:
        for item in tqdm([i for i in items if i.id not in done], desc="evidence recall", unit="item"):
            methods = methods_for(item, runs, table, compare)
            spans = evidence_spans(item)
            row = {"id": item.id, "task": item.task, "task_type": item.task_type, "recall": {}, "covered": {}}
            for k in keep:
                kept = kept_tokens(model, processor, item.audio, format_prompt(item), list(methods.values()), k)
                row["recall"][str(k)] = dict(zip(methods, evidence_recall(kept, spans), strict=True))
                row["covered"][str(k)] = dict(zip(methods, events_covered(kept, spans), strict=True))
            out.write(json.dumps(row) + "\n")
            out.flush()
            rows.append(row)
    text = (
        f"Evidence recall x 100 [95% bootstrap interval], {len(rows)} long items of {args.data} "
        f"({args.per_task} per task); random keeps the keep ratio in expectation.\n\n" + summarize(rows, keep)
    )
    if all("covered" in row for row in rows):
        text += (
            f"\nEvents covered x 100 [95% bootstrap interval]: the share of an item's evidence events of which the "
            f"method kept at least {COVERED_LEAST:g} of the tokens (the events are those evidence recall counts; "
            "an item of one event scores 0 or 100).\n\n"
        ) + summarize(rows, keep, "covered")
    else:
        text += "\nEvents covered: not in this journal (written before they were recorded; rerun into a new --out).\n"
    if args.answers:
        predictions = [json.loads(line) for line in args.answers.read_text().splitlines() if line.strip()]
        text += (
            f"\nAnswers against evidence kept ({args.answers}): of the items answered right unpruned (score 1: a "
            "partial score, such as a digit string's with one wrong word, is not right), the share "
            "answered right after pruning, by the share of the evidence tokens the method kept, over every method and "
            "keep ratio of both runs (in brackets: item x method x keep ratio cases).\n\n"
        ) + answers_by_recall(rows, predictions)
    (args.out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
