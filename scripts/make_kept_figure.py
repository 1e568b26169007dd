"""Make the README's picture of what pruning keeps: a shipped demo clip's spectrogram and, per method, the audio
tokens it keeps at one keep ratio, with the shipped proving-ground model and its shipped head table.

    python scripts/make_kept_figure.py            # -> docs/images/kept.png

The same picture as ``headrouter show CLIP --methods ... --keep ... --out ...``, with a title for the README. Every
method is deterministic (random's seed is its own setting); the torch seed is set anyway.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import torch

from headrouter.adapters import load_model, load_processor
from headrouter.cli.show import DEFAULT_METHODS, resolve_clip
from headrouter.evaluation.demo import SHIPPED_MODEL, SHIPPED_TABLE
from headrouter.visual import kept_tokens, plot_kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", default="keyword_needle-000002", help="a shipped demo clip id or an audio file")
    parser.add_argument("--keep", type=float, default=0.3)
    parser.add_argument("--out", type=Path, default=Path("docs/images/kept.png"))
    args = parser.parse_args()
    matplotlib.use("Agg")
    torch.manual_seed(0)
    torch.set_num_threads(2)
    audio, prompt = resolve_clip(args.clip)
    model, processor = load_model(SHIPPED_MODEL, dtype="float32"), load_processor(SHIPPED_MODEL)
    kept = kept_tokens(model, processor, audio, prompt, DEFAULT_METHODS, args.keep, table=SHIPPED_TABLE)
    question = prompt.split("\n")[0]
    title = (
        f"Audio tokens each method keeps at keep {args.keep:g} ({len(kept.methods[0].indices)} of "
        f'{kept.audio_tokens}), shipped model\n{audio.stem}: "{question}"'
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot_kept(kept, title=title).savefig(args.out, dpi=100, bbox_inches="tight")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
