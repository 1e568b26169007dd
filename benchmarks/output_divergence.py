"""Output divergence on the proving ground (the long items by default): how far each method's pruning moves the
model's next-token distribution from the unpruned one (KL, nats; headrouter.divergence), per task family and keep
ratio, with 95% bootstrap intervals, and each HeadRouter variant's paired difference from every baseline.

    python benchmarks/output_divergence.py --model benchmarks/models/proving_ground_long \
        --table benchmarks/models/proving_ground_long [--per-task 67] [--keep 0.3,0.1] [--methods SPECS]

Accuracy on this small model separates methods by a few items in hundreds; the divergence at the token where the
answer begins is measured on every item, without labels, and is 0 when pruning changes nothing the model would say.
One unpruned and one pruned forward per item, method and keep ratio (no generation). Items, methods and the
resumable journal (``OUT/per_item.jsonl``, first line the settings; a run with other settings is refused) work as in
evidence_recall.py. ``OUT/results.md`` holds the tables.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from per_item import FAMILIES, add_arguments, methods_for, open_journal, run_plan
from tqdm.auto import tqdm

from headrouter.adapters import adapter_for, load_model, load_processor
from headrouter.adapters.chat_inputs import build_inputs
from headrouter.audio import load_audio
from headrouter.divergence import next_token_log_probs, pruned_divergence
from headrouter.evaluation.bootstrap import mean_replicates, percentile_interval, resample_indices
from headrouter.evaluation.journal import weights_fingerprint
from headrouter.evaluation.tasks.items import format_prompt
from headrouter.methods.headrouter.table import HeadTable

METHODS = (
    "random,frame,fastv,dart,segment,headrouter,headrouter[oracle],headrouter[diversity=0.95],fastv[diversity=0.95]"
)
BASELINES = ("random", "frame", "fastv", "dart", "segment")


def _interval(values: list[float], key: str) -> str:
    low, high = percentile_interval(mean_replicates(values, resample_indices(len(values), key)))
    return f"[{low:.4f}, {high:.4f}]"


def summarize(rows: list[dict], keep: list[float], names: list[str]) -> str:
    """Mean KL [95% interval] per method and (family, keep ratio); each headrouter variant minus each baseline,
    paired over items (the same resample for both)."""
    lines = ["| method | " + " | ".join(f"{f} {k:g}" for f in FAMILIES for k in keep) + " |"]
    lines.append("|---" * (1 + 2 * len(keep)) + "|")
    for name in names:
        cells = []
        for family in FAMILIES:
            for k in keep:
                values = [r["kl"][str(k)][name] for r in rows if r["task_type"] == family]
                cells.append(f"{np.mean(values):.4f} {_interval(values, family)}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for variant in (n for n in names if n.startswith("headrouter")):
        lines += ["", f"{variant} minus each baseline (KL, nats; negative: closer to unpruned):", ""]
        lines += ["| baseline | " + " | ".join(f"{f} {k:g}" for f in FAMILIES for k in keep) + " |"]
        lines.append("|---" * (1 + 2 * len(keep)) + "|")
        for baseline in (b for b in BASELINES if b in names):
            cells = []
            for family in FAMILIES:
                for k in keep:
                    diff = [
                        r["kl"][str(k)][variant] - r["kl"][str(k)][baseline] for r in rows if r["task_type"] == family
                    ]
                    cells.append(f"{np.mean(diff):+.4f} {_interval(diff, family)}")
            lines.append(f"| {baseline} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser, METHODS, 67, Path("benchmarks/results/output_divergence"))
    args = parser.parse_args()
    keep, specs, runs, items = run_plan(args)
    model, processor = load_model(args.model), load_processor(args.model)
    table = HeadTable.from_pretrained(args.table)
    adapter = adapter_for(model)
    settings = {
        "model": str(args.model),
        "model_weights": weights_fingerprint(model),
        "table": table.meta["created"],
        "keep": keep,
        "items": [item.id for item in items],
        "methods": specs,
    }
    journal, rows = open_journal(args.out, settings)
    done = {row["id"] for row in rows}
    rate = adapter.sampling_rate(processor)
    with journal.open("a") as out, torch.inference_mode():
        for item in tqdm([i for i in items if i.id not in done], desc="output divergence", unit="item"):
            inputs = build_inputs(processor, [load_audio(item.audio, rate)], [format_prompt(item)])
            reference = next_token_log_probs(model, inputs)
            methods = methods_for(item, runs, table, None)
            row = {"id": item.id, "task": item.task, "task_type": item.task_type, "kl": {}}
            for k in keep:
                row["kl"][str(k)] = {
                    name: float(pruned_divergence(model, inputs, method, k, reference)[0])
                    for name, method in methods.items()
                }
            out.write(json.dumps(row) + "\n")
            out.flush()
            rows.append(row)
    text = (
        f"Next-token KL(unpruned || pruned) in nats, mean [95% bootstrap interval], {len(rows)} items of "
        f"{args.data} ({args.per_task} per task), pruning at the library's default layer.\n\n"
        + summarize(rows, keep, specs)
    )
    (args.out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
