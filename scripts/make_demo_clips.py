"""Pick the shipped demo clips: one short clip per task and one long clip (30-40 s, 750-1,000 audio tokens, where
pruning saves time) per task named in ``--long-tasks``, each one the trained model answers correctly, unpruned.

    python scripts/make_demo_clips.py --model src/headrouter/assets/proving_ground --out src/headrouter/assets/demo

Clips come from ``headrouter.evaluation.tasks`` with their own seed (not the training seed); for each task the first
candidate the model answers exactly right (greedy) is written as ``clips/<id>.wav`` with its item in
``items.jsonl``, the long clips first, each item's ``extra["seconds"]`` its length. ``--long-tasks`` names tasks of
either family: a short-family task (the default: a keyword, a digit string, beeps and a note somewhere in 30-40 s of
noise, which the shipped model was trained on) is drawn at the long length, numbered from 1000 so that its id
differs from the short clip's; a long-family task (``headrouter tasks --family long``) needs a model trained on it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from headrouter.adapters.qwen2_5_omni.loading import load_model, load_processor
from headrouter.evaluation.tasks import synth
from headrouter.evaluation.tasks.generator import TASKS, make_example
from headrouter.evaluation.tasks.items import format_prompt, score, write_items
from headrouter.evaluation.tasks.long import LONG_TASKS, make_long_example

sys.path.insert(0, str(Path(__file__).parent))
from eval_proving_ground import answer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="src/headrouter/assets/proving_ground")
    parser.add_argument("--out", type=Path, default=Path("src/headrouter/assets/demo"))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--max-seconds", type=float, default=3.0)
    parser.add_argument("--long-seconds", default="30,40", help="long clips' length range in seconds")
    parser.add_argument(
        "--long-tasks",
        default="keyword_needle,digit_string,beep_count,pitch_class",
        help="comma-separated tasks of either family to draw a long clip of",
    )
    parser.add_argument("--tries", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(2)
    model, processor = load_model(args.model, dtype="float32"), load_processor(args.model)
    (args.out / "clips").mkdir(parents=True, exist_ok=True)
    for old in (args.out / "clips").glob("*.wav"):
        old.unlink()
    low, high = (float(v) for v in args.long_seconds.split(","))
    long_tasks = args.long_tasks.split(",") if args.long_tasks else []
    unknown = [task for task in long_tasks if task not in TASKS and task not in LONG_TASKS]
    if unknown:
        parser.error(f"--long-tasks: unknown task(s) {unknown}; known: {[*TASKS, *LONG_TASKS]}")
    candidates = [
        (task, lambda t, i: make_long_example(t, i, args.seed, low, high))
        if task in LONG_TASKS
        else (task, lambda t, i: make_example(t, 1000 + i, args.seed, low, high, long_fraction=0.0))
        for task in long_tasks
    ]
    candidates += [
        (task, lambda t, i: make_example(t, i, args.seed, max_seconds=args.max_seconds, long_fraction=0.0))
        for task in TASKS
    ]
    chosen = []
    for task, make in candidates:
        for i in range(args.tries):
            example = make(task, i)
            said = answer(model, processor, example.audio, format_prompt(example.item))
            right = score(example.item, said) == (0.0 if example.item.metric == "wer" else 1.0)
            print(
                f"{example.item.id}: {example.audio.size / 16000:.1f} s, answer {example.item.answer!r}, said {said!r}"
            )
            if right:
                synth.write_wav(args.out / example.item.audio, example.audio)
                example.item.extra["seconds"] = round(example.audio.size / synth.SAMPLE_RATE, 2)
                chosen.append(example.item)
                break
        else:
            print(f"no correct answer for {task} in {args.tries} tries")
    write_items(chosen, args.out / "items.jsonl")
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{len(chosen)} demo clips, {size / 1e6:.2f} MB in {args.out}")


if __name__ == "__main__":
    main()
