"""Prefill speed-up of every family's built-in benchmark model at one audio length and keep ratio, against its
FLOP-ideal: the speed table of docs/models.md.

    python benchmarks/families.py [--tokens 3000] [--keep 0.3] [--runs 3] [--out benchmarks/results/families]

Each family is ``headrouter bench --family F --lengths N --keep R --methods fastv --decode-tokens 0 --no-memory``
(3 decoder layers at the family's first published widths, K = 1, bf16, sdpa): its own JSON and markdown report go
into ``--out``, and a family whose report is there already is not run again (delete it to rerun), so a stopped run
continues. The table of all of them is written to ``OUT/families.md``. Run it alone on the machine: the figures are
ratios of runs interleaved within one family, but another busy process still skews them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from headrouter import bench
from headrouter.machine import describe_machine


def measure(family: str, tokens: int, keep: float, runs: int, out: Path) -> dict:
    """The family's benchmark results, from ``out`` if it ran before, else measured now and written there."""
    path = out / f"{family}.json"
    if path.is_file():
        return json.loads(path.read_text())
    settings = bench.BenchSettings(
        family=family,
        shape=next(iter(bench.family_adapter(family).published_shapes)),
        lengths=(tokens,),
        keep_ratios=(keep,),
        methods=("fastv",),
        runs=runs,
        decode_tokens=0,
        memory=False,
    )
    results = bench.run_benchmark(settings)
    bench.write_report(results, out, family, plot=False)
    return results


def table(all_results: dict[str, dict], keep: float) -> str:
    """Markdown: per family the shape, the measured prefill speed-up (median of the runs) and the FLOP-ideal."""
    lines = [
        "| family | widths of | decoder (3 layers, K = 1) | tokens | speed-up | FLOP-ideal | measured / ideal |",
        "|---|---|---|---|---|---|---|",
    ]
    for family, results in all_results.items():
        shape = results["model"]["decoder"]
        cell = next(c for c in results["cells"] if c["method"] == "fastv" and c["keep_ratio"] == keep)
        title = f"{bench.family_adapter(family).title}-{results['settings']['shape']}"
        widths = (
            f"hidden {shape['hidden_size']}, {shape['num_heads']}/{shape['num_kv_heads']} heads of "
            f"{shape['head_dim']}, MLP {shape['intermediate_size']}"
        )
        lines.append(
            f"| {family} | {title} | {widths} | {cell['tokens_before']} -> {cell['tokens_after']} | "
            f"{cell['speedup']:.2f}x | {cell['ideal_speedup']:.2f}x | {cell['measured_over_ideal']:.0%} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=3000, help="audio tokens (default 3000)")
    parser.add_argument("--keep", type=float, default=0.3, help="keep ratio (default 0.3)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per setting (default 3)")
    parser.add_argument("--out", default="benchmarks/results/families", help="output folder")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    all_results = {}
    for family in bench.benchmark_families():
        print(f"{family} ...", flush=True)
        all_results[family] = measure(family, args.tokens, args.keep, args.runs, out)
    text = (
        f"# Prefill speed-up per family: {args.tokens} audio tokens, keep {args.keep:g}\n\n"
        f"Machine: {describe_machine()}. Median of {args.runs} runs per setting, interleaved; bf16, sdpa, random "
        "weights, no audio features (the decoder only). Reproduce: `python benchmarks/families.py`.\n\n"
        f"{table(all_results, args.keep)}\n"
    )
    (out / "families.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
