"""End-to-end prefill of Qwen2.5-Omni-3B with its audio tower running: the tower's share, the decoder's and the whole
prefill's speed-up against their ideals, and peak prefill memory; the end-to-end table of the README.

    python benchmarks/end_to_end.py [--part shallow|full|both] [--out benchmarks/results/end_to_end]

Two parts, each ``headrouter bench --with-audio-tower`` once per audio length (random weights, 3B widths, bf16, sdpa,
the headrouter methods timed with a table calibrated on the bench prompts; ``DEFAULT`` is ``wrap``'s default method,
whose diversity step does not grow with depth, so only the full depth shows its real share):

- ``shallow``: 3 decoder layers (K = 1) and 3 tower layers (the published 32:36 depth ratio), 1,500 / 3,000 / 7,500
  audio tokens, keep 1.0 / 0.7 / 0.3, fastv, headrouter and ``DEFAULT``, 3 runs, 8 decode tokens (at 7,500:
  headrouter and ``DEFAULT``, 2 runs, no decode timing);
- ``full``: the published depth, 36 decoder layers (K = 2, the library default) and 32 tower layers, 1,500 / 3,000
  audio tokens, keep 1.0 / 0.3, headrouter and ``DEFAULT``, 5 runs, no decode timing, no unwrapped cell (keep 1.0
  is the unpruned reference): one unpruned prefill takes 11-15 s at 1,500 tokens and 23-28 s at 3,000 on a 2-core
  CPU with AMX bf16 units, so medians of 5 (the whole part about 15 minutes).

Each length's JSON and markdown report go into ``--out`` as ``<part>-<tokens>``; one already there is not run again
(delete it to rerun), so a stopped run continues. ``OUT/end_to_end.md`` collects the tables. Run it alone on the
machine: the figures are ratios of runs interleaved within one length, but another busy process still skews them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from headrouter import bench
from headrouter.config import DEFAULT_METHOD as DEFAULT
from headrouter.machine import describe_machine

PARTS = {
    "shallow": dict(
        lengths=(1500, 3000, 7500), methods=("fastv", "headrouter", DEFAULT), runs=3, decode_tokens=8, num_layers=3,
        prune_layer=1,
    ),
    "full": dict(
        lengths=(1500, 3000), keep_ratios=(1.0, 0.3), methods=("headrouter", DEFAULT), runs=5, decode_tokens=0,
        num_layers=36, prune_layer=2, unwrapped=False,
    ),
}  # fmt: skip
LENGTH_OVERRIDES = {("shallow", 7500): dict(methods=("headrouter", DEFAULT), runs=2, decode_tokens=0)}
"""What one length of a part runs differently, to fit a session on 2 CPU cores: on a CPU without AMX bf16 units one
shallow prefill at 7,500 tokens takes ~1.5 minutes, one full-depth prefill 3.5 minutes at 1,500 tokens and ~7.5 at
3,000 (with them, 7-20x less)."""
KEEP = (1.0, 0.7, 0.3)


def measure(part: str, tokens: int, out: Path) -> dict:
    """One length of ``part``, from ``out`` if it ran before, else measured now and written there."""
    stem = f"{part}-{tokens}"
    path = out / f"{stem}.json"
    if path.is_file():
        return json.loads(path.read_text())
    values = {"keep_ratios": KEEP} | {k: v for k, v in PARTS[part].items() if k != "lengths"}
    values |= LENGTH_OVERRIDES.get((part, tokens), {})
    settings = bench.BenchSettings(lengths=(tokens,), with_audio_tower=True, **values)
    results = bench.run_benchmark(settings)
    bench.write_report(results, out, stem, plot=False)
    return results


def table(runs: list[dict]) -> str:
    """Markdown: one row per (model, length, method, keep < 1) with the end-to-end figures."""
    lines = [
        "| model | audio tokens | method | keep | unpruned prefill s | tower share | decoder speed-up (ideal) | "
        "end-to-end speed-up (ideal) | measured / ideal | scoring ms (% of unpruned) | peak prefill MiB (keep 1.0) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for results in runs:
        model = results["model"]
        depth = f"{model['decoder']['num_layers']} + {model['audio_tower']['layers']} tower layers"
        length = results["lengths"][0]
        for cell in results["cells"]:
            if cell["method"] == "none" or cell["keep_ratio"] == 1.0:
                continue
            full = next(c for c in results["cells"] if c["method"] == cell["method"] and c["keep_ratio"] == 1.0)
            lines.append(
                f"| {depth} | {cell['audio_tokens']:,} | {cell['method']} | {cell['keep_ratio']:g} | "
                f"{length['unpruned_prefill_ms'] / 1e3:,.1f} | {length['unpruned_tower_share']:.0%} | "
                f"{cell['decoder_speedup']:.2f}x ({cell['decoder_ideal_speedup']:.2f}x) | "
                f"{cell['speedup']:.2f}x ({cell['ideal_speedup']:.2f}x) | {cell['measured_over_ideal']:.0%} | "
                f"{cell['scoring_ms']:,.0f} ({cell['scoring_share']:.1%}) | "
                f"{_mib(cell['prefill_peak_bytes'])} ({_mib(full['prefill_peak_bytes'])}) |"
            )
    return "\n".join(lines)


def _mib(value: int | None) -> str:
    return "–" if value is None else f"{value / 2**20:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=(*PARTS, "both"), default="both", help="which part to run (default both)")
    parser.add_argument("--out", default="benchmarks/results/end_to_end", help="output folder")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parts = list(PARTS) if args.part == "both" else [args.part]
    for part in parts:
        for tokens in PARTS[part]["lengths"]:
            print(f"{part}: {tokens} audio tokens ...", flush=True)
            measure(part, tokens, out)
    done = [json.loads(p.read_text()) for part in PARTS for p in sorted(out.glob(f"{part}-*.json"))]
    done.sort(key=lambda r: (r["model"]["decoder"]["num_layers"], r["lengths"][0]["audio_tokens"]))
    text = (
        "# End-to-end prefill: Qwen2.5-Omni-3B widths with the audio tower running\n\n"
        f"Machine: {describe_machine()}. Random weights, bf16, sdpa; the audio tower runs on random input features "
        "(4 mel frames per audio token); headrouter with a table calibrated on the bench prompts. Speed-ups against "
        "keep 1.0 of the same method, medians of the runs, interleaved within a length. End-to-end ideal: the "
        "tower's share at keep 1.0 unchanged, the rest at the decoder's FLOP ideal. Peak prefill memory: the most "
        "allocated during prefill above the weights. Reproduce: `python benchmarks/end_to_end.py`.\n\n"
        f"{table(done)}\n"
    )
    (out / "end_to_end.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
