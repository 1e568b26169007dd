"""The method table on the long proving ground: every method at keep 0.7 / 0.5 / 0.3 / 0.1 on the held-out long items,
with bootstrap intervals, oracle routing, and the ablations of issue 14; the proving-ground table of the README.

    headrouter tasks --family long --per-task 67 --seed 1234 --min-seconds 60 --max-seconds 120 --out data/long_heldout
    python benchmarks/proving_ground_long.py [--model DIR] [--table DIR] [--data ITEMS] [--out DIR] [--workers 2]

Two grids, each one ``headrouter eval`` (greedy answers, the items' own scoring, results.md/json with 95% bootstrap
intervals over items):

- ``main``: random, frame, fastv, dart, segment, headrouter (routed on the head-behaviour vector and the instruction
  text) and headrouter[oracle] (each item's own task type: no routing error) at keep 0.7, 0.5, 0.3, 0.1;
- ``ablations``: at keep 0.3 and 0.1, headrouter routed on the head-behaviour vector alone (the paper's router,
  "before"), on the text alone, with spectral score smoothing, without debiasing, with uniform head weights, and
  segment-wise selection with headrouter inside.

Each grid runs in ``--workers`` processes of one thread over interleaved shards of the items (a tiny model's small
matrix products use two cores better as two processes than as two threads), each with its own resume journal;
the journals are then merged and ``headrouter eval`` on all items reads every answer back and writes the report.
A stopped run continues where it stopped. The unpruned answers are computed once, in ``main``, and handed to the
ablations' journals.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

MAIN = "random,frame,fastv,dart,segment,headrouter,headrouter[oracle]"
ABLATIONS = (
    "headrouter[route_on=behaviour],headrouter[route_on=text],headrouter[smooth=0.25],headrouter[debias=False],"
    "headrouter[uniform_heads=True],segment[inner=headrouter]"
)
GRIDS = {"main": (MAIN, "0.7,0.5,0.3,0.1"), "ablations": (ABLATIONS, "0.3,0.1")}


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


def unpruned_journal(main: Path, target: Path) -> None:
    """Start ``target``'s journal with ``main``'s header and unpruned answers (its own header follows)."""
    if target.is_file():
        return
    lines = (main / "progress.jsonl").read_text().splitlines()
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
            unpruned_journal(args.out / "main" / f"shards/shard-{k}", work / f"shard-{k}" / "progress.jsonl")
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


if __name__ == "__main__":
    main()
