"""The method table on the long proving ground: every method at keep 0.7 / 0.5 / 0.3 / 0.1 on the held-out long items,
with bootstrap intervals, oracle routing, and the ablations of issue 14; the proving-ground table of the README.

    headrouter tasks --family long --per-task 67 --seed 1234 --min-seconds 60 --max-seconds 120 --out data/long_heldout
    python benchmarks/proving_ground_long.py [--model DIR] [--table DIR] [--data ITEMS] [--out DIR] [--workers 2]

Two grids, each one ``headrouter eval`` (greedy answers, the items' own scoring, results.md/json with 95% bootstrap
intervals over items):

- ``main``: random, frame, fastv, dart, segment, headrouter (routed on the head-behaviour vector, the paper's router),
  headrouter[oracle] (each item's own task type: no routing error), and headrouter and fastv with diverse selection
  (``diversity=0.95``, the weight chosen on the calibration items' evidence recall) at keep 0.7, 0.5, 0.3, 0.1;
- ``ablations``: at keep 0.3, headrouter routed on the head-behaviour vector (the default, named: a main grid run
  with an older default compares with it), on the instruction text (to the nearest calibration instruction, and
  to each task type's mean instruction), on both, with spectral score smoothing, with uniform head weights, with the
  heads of both layers below K = 2 (``layers=2``), and segment-wise selection with headrouter inside (one keep
  ratio: about 12 minutes on 2 cores after ``main``'s 60).

Each grid runs in ``--workers`` processes of one thread over interleaved shards of the items (a tiny model's small
matrix products use two cores better as two processes than as two threads), each with its own resume journal;
the journals are then merged and ``headrouter eval`` on all items reads every answer back and writes the report.
A stopped run continues where it stopped. The unpruned answers are computed once, in ``main``, and handed to the
ablations' journals (unless the table was recalibrated between the grids). ``OUT/summary.md`` collects the tables
the README quotes: unpruned scores, percent of unpruned per task family with intervals, HeadRouter's paired lead over
each baseline and how many items each lead would need to clear 0, the same over the tasks the model answers above
chance unpruned (their choices read from ``--data``), routing accuracy and the oracle gap, and the ablations.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from headrouter.evaluation.bootstrap import (
    items_to_resolve,
    mean_replicates,
    percent_replicates,
    percentile_interval,
    resample_indices,
)
from headrouter.evaluation.runner import load_items
from headrouter.methods.base import split_specs

DIVERSE = "headrouter[diversity=0.95]"
MAIN = f"random,frame,fastv,dart,segment,headrouter,headrouter[oracle],{DIVERSE},fastv[diversity=0.95]"
ABLATIONS = (
    "headrouter[route_on=behaviour],headrouter[route_on=text],headrouter[route_on=text,text_match=mean],"
    "headrouter[route_on=both],"
    "headrouter[smooth=0.25],headrouter[uniform_heads=True],headrouter[layers=2],segment[inner=headrouter]"
)
GRIDS = {"main": (MAIN, "0.7,0.5,0.3,0.1"), "ablations": (ABLATIONS, "0.3")}
BASELINES = ("random", "frame", "fastv", "dart", "segment")
FAMILIES = ("acoustic", "semantic")
ROUTERS = (
    "headrouter",
    "headrouter[route_on=behaviour]",
    "headrouter[route_on=text]",
    "headrouter[route_on=text,text_match=mean]",
    "headrouter[route_on=both]",
    "headrouter[oracle]",
)


def eval_command(args: argparse.Namespace, data: Path, out: Path, methods: str, keep: str, threads: int) -> list[str]:
    return [
        sys.executable, "-m", "headrouter", "eval", "--model", str(args.model), "--table", str(args.table),
        "--data", str(data), "--methods", methods, "--keep", keep, "--out", str(out), "--threads", str(threads),
        "--no-progress",
    ]  # fmt: skip


def shards(data: Path, out: Path, workers: int) -> list[Path]:
    """Interleaved shards of the items file (item i goes to shard i mod ``workers``), audio paths made absolute."""
    lines = [line for line in data.read_text().splitlines() if line.strip()]
    paths = []
    for k in range(workers):
        path = out / f"items-{k}.jsonl"
        rows = []
        for line in lines[k::workers]:
            item = json.loads(line)
            audio = Path(item["audio"])
            item["audio"] = str(audio if audio.is_absolute() else (data.parent / audio).resolve())
            rows.append(json.dumps(item))
        path.write_text("\n".join(rows) + "\n")
        paths.append(path)
    return paths


def unpruned_journal(main: Path, target: Path, table: Path) -> None:
    """Start ``target``'s journal with ``main``'s header and unpruned answers (its own header follows), unless main
    ran with another calibration of the table (the journal would refuse the mix): then the grid answers unpruned
    itself."""
    if target.is_file():
        return
    lines = (main / "progress.jsonl").read_text().splitlines()
    created = json.loads((table / "head_table.json").read_text())["created"]
    if json.loads(lines[0])["settings"]["table"]["created"] != created:
        print(f"{main} ran with another calibration of {table}: this grid answers unpruned itself", flush=True)
        return
    kept = [line for line in lines if '"journal"' in line or '"method": "none"' in line]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(kept[:1] + [line for line in kept if '"method": "none"' in line]) + "\n")


def run_grid(args: argparse.Namespace, name: str) -> None:
    methods, keep = GRIDS[name]
    out = args.out / name
    work = out / "shards"
    work.mkdir(parents=True, exist_ok=True)
    if name != "main":
        for k in range(args.workers):
            unpruned_journal(
                args.out / "main" / f"shards/shard-{k}", work / f"shard-{k}" / "progress.jsonl", args.table
            )
    processes = [
        subprocess.Popen(eval_command(args, path, work / f"shard-{k}", methods, keep, 1) + ["--no-plot"])
        for k, path in enumerate(shards(args.data, work, args.workers))
    ]
    if any(p.wait() for p in processes):
        sys.exit(f"{name}: a shard failed; rerun to continue")
    merged = []
    for k in range(args.workers):
        merged += (work / f"shard-{k}" / "progress.jsonl").read_text().splitlines()
    (out / "progress.jsonl").write_text("\n".join(merged) + "\n")
    subprocess.run(eval_command(args, args.data, out, methods, keep, args.workers), check=True)


def _family_rows(results: dict) -> dict[tuple, dict]:
    return {(r["task_type"], r["method"], r["keep_ratio"]): r for r in results["families"]}


def _interval(values: list[float] | None, scale: float = 1.0, sign: str = "") -> str:
    return "" if values is None else f" [{scale * values[0]:{sign}.1f}, {scale * values[1]:{sign}.1f}]"


def _score(row: dict | None) -> str:
    return "-" if row is None else f"{100 * row['score']:.1f}{_interval(row['score_ci'], 100)}"


def _cell(row: dict | None) -> str:
    if row is None or row["percent_of_unpruned"] is None:
        return "-"
    return f"{row['percent_of_unpruned']:.1f}{_interval(row['percent_of_unpruned_ci'])}"


def paired_lead(
    predictions: list[dict], family: str, a: str, b: str, keep: float, tasks: set[str] | None = None
) -> tuple[float, list[float] | None]:
    """Family score of method ``a`` minus ``b`` at ``keep`` in points (mean over tasks of the mean item score), with
    its 95% bootstrap interval: items resampled within each task, the same resample for both methods (paired).
    ``tasks``: only these of the family's tasks (default all)."""
    by_task: dict[str, dict[str, dict[str, float]]] = {}
    for p in predictions:
        if p["task_type"] == family and p["keep_ratio"] == keep and p["method"] in (a, b):
            if tasks is None or p["task"] in tasks:
                by_task.setdefault(p["task"], {}).setdefault(p["id"], {})[p["method"]] = p["score"]
    point, replicates = [], []
    for task, items in sorted(by_task.items()):
        ids = sorted(i for i, m in items.items() if len(m) == 2)
        diff = [items[i][a] - items[i][b] for i in ids]
        point.append(float(np.mean(diff)))
        replicates.append(mean_replicates(diff, resample_indices(len(ids), task)))
    interval = percentile_interval(np.mean(replicates, axis=0))
    return 100 * float(np.mean(point)), None if interval is None else [100 * v for v in interval]


def _needed(lead: float, interval: list[float] | None, items: int) -> str:
    """A cell of :func:`resolution_section`: the lead +- its interval's half-width, and the items it would take to
    clear 0."""
    if interval is None:
        return "-"
    if interval[0] > 0 or interval[1] < 0:
        return "ahead" if lead > 0 else "behind"
    needed = items_to_resolve(lead, interval, items)
    count = "never (lead 0)" if np.isinf(needed) else f"{needed:,.0f}" if needed < 1e6 else "> 1,000,000"
    return f"{lead:+.1f} ± {(interval[1] - interval[0]) / 2:.1f}: {count}"


def resolution_section(predictions: list[dict], keeps: tuple[float, ...]) -> list[str]:
    """Markdown: for each paired lead of headrouter and the diverse default over a baseline, the items per family
    its interval would need to exclude 0 (:func:`headrouter.evaluation.bootstrap.items_to_resolve`)."""
    items = {f: len({p["id"] for p in predictions if p["task_type"] == f and p["method"] == "none"}) for f in FAMILIES}
    lines = ["", "## Items per family the leads above would need to clear 0", ""]
    lines += [
        f"The held-out set has {items['acoustic']} acoustic and {items['semantic']} semantic items. Each cell: the "
        "lead ± the half-width of its paired interval (points), then how many items per family an interval of the "
        "same spread would need to exclude 0 for a lead of the size measured (the half-width shrinks as "
        "1 / sqrt(items)); ahead / behind where it already does. A planning figure, not a test.",
        "",
        "| method | family | baseline | " + " | ".join(f"keep {k}" for k in keeps) + " |",
        "|---" * (len(keeps) + 3) + "|",
    ]
    for method in ("headrouter", DIVERSE):
        for family in FAMILIES:
            for baseline in BASELINES:
                cells = [_needed(*paired_lead(predictions, family, method, baseline, k), items[family]) for k in keeps]
                lines.append(f"| {method} | {family} | {baseline} | " + " | ".join(cells) + " |")
    return lines


def chance_levels(items_file: Path) -> dict[str, float]:
    """Per task of the items with choices, the score of a uniform guess: the mean over its items of 1 / choices.
    Tasks with open answers (``long_digit_string``) have no such level and are left out."""
    levels: dict[str, list[float]] = {}
    for item in load_items(items_file):
        if item.choices:
            levels.setdefault(item.task, []).append(1.0 / len(item.choices))
    return {task: float(np.mean(values)) for task, values in levels.items()}


def above_chance(predictions: list[dict], chance: dict[str, float]) -> dict[str, tuple[float, list[float], float]]:
    """The tasks whose unpruned score's 95% bootstrap interval lies above a guess (every task without a chance level,
    too), each with ``(score, interval, chance)`` (chance NaN where there is none)."""
    unpruned: dict[str, list[float]] = {}
    for p in predictions:
        if p["method"] == "none":
            unpruned.setdefault(p["task"], []).append(p["score"])
    kept = {}
    for task, scores in sorted(unpruned.items()):
        interval = percentile_interval(mean_replicates(scores, resample_indices(len(scores), task)))
        level = chance.get(task, float("nan"))
        if task not in chance or interval[0] > level:
            kept[task] = (float(np.mean(scores)), interval, level)
    return kept


def percent_on(predictions: list[dict], family: str, method: str, keep: float, tasks: set[str]) -> str:
    """Percent of the unpruned family score over ``tasks`` only, with its paired 95% bootstrap interval (items
    resampled within each task, the same resample for the method and unpruned), as a table cell."""
    by_task: dict[str, dict[str, dict[str, float]]] = {}
    for p in predictions:
        if p["task_type"] == family and p["task"] in tasks:
            if (p["method"], p["keep_ratio"]) in ((method, keep), ("none", None)):
                by_task.setdefault(p["task"], {}).setdefault(p["id"], {})[p["method"]] = p["score"]
    if not by_task:
        return "-"
    point, base, replicates, base_replicates = [], [], [], []
    for task, items in sorted(by_task.items()):
        ids = sorted(i for i, m in items.items() if len(m) == 2)
        indices = resample_indices(len(ids), task)
        pruned, unpruned = [items[i][method] for i in ids], [items[i]["none"] for i in ids]
        point.append(np.mean(pruned))
        base.append(np.mean(unpruned))
        replicates.append(mean_replicates(pruned, indices))
        base_replicates.append(mean_replicates(unpruned, indices))
    interval = percentile_interval(percent_replicates(np.mean(replicates, 0), np.mean(base_replicates, 0)))
    return f"{100 * np.mean(point) / np.mean(base):.1f}{_interval(interval)}"


def answerable_section(predictions: list[dict], items_file: Path, keeps: tuple[float, ...]) -> list[str]:
    """Markdown: the method table and the diverse headrouter's paired leads over the tasks answered above chance."""
    tasks = above_chance(predictions, chance_levels(items_file))
    lines = ["", "## Tasks answered above chance unpruned", ""]
    lines += [
        "A task counts when its unpruned score's 95% interval lies above a uniform guess among its choices (open "
        "answers always count); on the others no pruning method can be told from another.",
        "",
        "| task | unpruned [95% interval] | chance |",
        "|---|---|---|",
    ]
    for task, (score, interval, level) in tasks.items():
        chance = "-" if np.isnan(level) else f"{100 * level:.1f}"
        lines.append(f"| {task} | {100 * score:.1f}{_interval(interval, 100)} | {chance} |")
    for family in FAMILIES:
        names = {p["task"] for p in predictions if p["task_type"] == family} & set(tasks)
        lines += ["", f"## Percent of unpruned on those tasks, {family} ({', '.join(sorted(names))}) [95% interval]"]
        lines += ["", "| method | " + " | ".join(f"keep {k}" for k in keeps) + " |", "|---" * (len(keeps) + 1) + "|"]
        for method in split_specs(MAIN):
            cells = [percent_on(predictions, family, method, k, names) for k in keeps]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += ["", f"## {DIVERSE} minus each baseline on those tasks (points, paired 95% interval)", ""]
    lines += ["| family | other | " + " | ".join(f"keep {k}" for k in keeps) + " |", "|---" * (len(keeps) + 2) + "|"]
    for family in FAMILIES:
        for other in (*BASELINES, "headrouter"):
            cells = []
            for k in keeps:
                lead, interval = paired_lead(predictions, family, DIVERSE, other, k, set(tasks))
                cells.append(f"{lead:+.1f}{_interval(interval, sign='+')}")
            lines.append(f"| {family} | {other} | " + " | ".join(cells) + " |")
    return lines


def summarize(out: Path, items_file: Path | None = None) -> str:
    """The README's tables from the grids' results, as markdown (also written to ``out/summary.md``); the main grid's
    alone when the ablations have not been run. With ``items_file`` (the held-out items, for their choices), also
    the tables over the tasks the model answers above chance (:func:`answerable_section`)."""
    main_results = json.loads((out / "main" / "results.json").read_text())
    ablations_file = out / "ablations" / "results.json"
    ablations = json.loads(ablations_file.read_text()) if ablations_file.is_file() else None
    rows = _family_rows(main_results) | (_family_rows(ablations) if ablations else {})
    predictions = [json.loads(line) for line in (out / "main" / "predictions.jsonl").read_text().splitlines()]
    keeps = (0.7, 0.5, 0.3, 0.1)
    lines = ["## Unpruned", "", "| family | items | score [95% interval] |", "|---|---|---|"]
    for family in FAMILIES:
        r = rows[(family, "none", None)]
        lines.append(f"| {family} | {r['items']} | {100 * r['score']:.1f}{_interval(r['score_ci'], 100)} |")
    for family in FAMILIES:
        for title, cell in (("Score x 100", _score), ("Percent of unpruned", _cell)):
            lines += ["", f"## {title}, {family} [95% interval]", ""]
            lines += ["| method | " + " | ".join(f"keep {k}" for k in keeps) + " |", "|---" * (len(keeps) + 1) + "|"]
            for method in split_specs(MAIN):
                lines.append(f"| {method} | " + " | ".join(cell(rows.get((family, method, k))) for k in keeps) + " |")
    for method in ("headrouter", DIVERSE):
        lines += ["", f"## {method} minus each baseline (points of the family score, paired 95% interval)", ""]
        lines += ["| family | baseline | " + " | ".join(f"keep {k}" for k in keeps[1:]) + " |", "|---" * 5 + "|"]
        for family in FAMILIES:
            for baseline in BASELINES:
                cells = []
                for k in keeps[1:]:
                    lead, interval = paired_lead(predictions, family, method, baseline, k)
                    cells.append(f"{lead:+.1f}{_interval(interval, sign='+')}")
                lines.append(f"| {family} | {baseline} | " + " | ".join(cells) + " |")
    lines += resolution_section(predictions, keeps[1:])
    if items_file is not None:
        lines += answerable_section(predictions, items_file, keeps)
    lines += ["", "## Routing: percent of items routed to their own task type (keep 0.3)", ""]
    lines += ["| router | " + " | ".join(FAMILIES) + " | overall |", "|---" * 4 + "|"]
    overall = {
        (r["method"], r["keep_ratio"]): r for r in main_results["overall"] + (ablations or {}).get("overall", [])
    }
    for method in ROUTERS:
        cells = [rows.get((f, method, 0.3), {}).get("routed_to_own_type") for f in FAMILIES]
        cells.append(overall.get((method, 0.3), {}).get("routed_to_own_type"))
        lines.append(f"| {method} | " + " | ".join("-" if c is None else f"{100 * c:.1f}" for c in cells) + " |")
    lines += ["", "## Ablations at keep 0.3 [95% interval]", ""]
    if ablations is None:
        lines.append("Not run (`--grids ablations` runs them).")
    else:
        lines += [
            "| method | " + " | ".join(f"{f} 0.3: score, % of unpruned" for f in FAMILIES) + " |",
            "|---" * 3 + "|",
        ]
        for method in ("headrouter", *split_specs(ABLATIONS)):
            cells = [f"{_score(rows.get((f, method, 0.3)))}; {_cell(rows.get((f, method, 0.3)))}" for f in FAMILIES]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("src/headrouter/assets/proving_ground"))
    parser.add_argument("--table", type=Path, default=Path("src/headrouter/assets/head_table"))
    parser.add_argument("--data", type=Path, default=Path("data/long_heldout/items.jsonl"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/proving_ground_long"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--grids", default="main,ablations", help="comma-separated: main, ablations")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"{args.data} not found: make it with the headrouter tasks command in this script's docstring")
    for name in args.grids.split(","):
        run_grid(args, name)
    if (args.out / "main" / "results.json").is_file():
        print(summarize(args.out, args.data))


if __name__ == "__main__":
    main()
