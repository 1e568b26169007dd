"""Cost of the diversity step alone (``headrouter.methods.diversity.diverse_top_k``, wrap's default's selection): one
sample of random features per size, weight 0.95, the time of the step by keep ratio, median of ``--runs``.

    python benchmarks/diversity_cost.py [--runs 3] [--threads 2] [--out benchmarks/results/diversity_cost.md]

Sizes: the long proving ground's (3,000 audio tokens, width 128), Qwen2.5-Omni-3B's (7,500 tokens, width 2,048) and a
7B decoder's (7,500 tokens, width 3,584), whose step the in-model bench (``headrouter bench``, 3B widths) does not
time. Random features are less alike than real audio tokens, so a round picks fewer tokens and the step runs more
rounds than on real features: an upper figure. Float32 hidden states, as the step computes in float32 whatever the
model's dtype. Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from headrouter.machine import describe_machine
from headrouter.methods.diversity import diverse_top_k

SIZES = ((3000, 128, "long proving ground"), (7500, 2048, "Qwen2.5-Omni-3B"), (7500, 3584, "7B decoder"))
KEEP = (0.7, 0.3, 0.1)
WEIGHT = 0.95


def step_seconds(tokens: int, width: int, keep: float, runs: int) -> float:
    """Median seconds of ``diverse_top_k`` on one sample of seeded random scores and hidden states."""
    generator = torch.Generator().manual_seed(0)
    scores = torch.rand(1, tokens, generator=generator)
    hidden = torch.randn(1, tokens, width, generator=generator)
    audio = torch.ones(1, tokens, dtype=torch.bool)
    counts = torch.tensor([round(keep * tokens)])
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        keep_mask = diverse_top_k(scores, audio, counts, hidden, WEIGHT)
        times.append(time.perf_counter() - start)
    assert int(keep_mask.sum()) == int(counts[0])
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per cell (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/diversity_cost.md"), help="report")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lines = [
        "# Cost of the diversity step alone",
        "",
        f"Machine: {describe_machine()}. One sample of seeded random features, weight {WEIGHT}, float32, median of "
        f"{args.runs} runs. Reproduce: `python benchmarks/diversity_cost.py`.",
        "",
        "| size | audio tokens | width | " + " | ".join(f"keep {k} (s)" for k in KEEP) + " |",
        "|---" * (len(KEEP) + 3) + "|",
    ]
    for tokens, width, name in SIZES:
        cells = [f"{step_seconds(tokens, width, keep, args.runs):.3f}" for keep in KEEP]
        lines.append(f"| {name} | {tokens:,} | {width:,} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
