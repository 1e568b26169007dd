"""Held-out accuracy of the proving-ground model, unpruned, per task and per task family (greedy decoding).

    python scripts/eval_proving_ground.py --model src/headrouter/assets/proving_ground --per-task 50 --seed 1234

Items are generated in memory by ``headrouter.evaluation.tasks`` (seed distinct from training's) and sent exactly as
evaluation sends them (``processor_inputs``: the audio, then ``format_prompt(item)``). A ``wer`` task's
accuracy is ``1 - WER`` (at least 0).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from headrouter.adapters.chat_inputs import processor_inputs
from headrouter.adapters.qwen2_5_omni.loading import load_model, load_processor
from headrouter.evaluation.tasks.generator import TASKS, make_example
from headrouter.evaluation.tasks.items import format_prompt, score


def answer(model, processor, wav: np.ndarray, prompt: str, max_new_tokens: int = 12) -> str:
    """The model's greedy answer to ``prompt`` about ``wav``."""
    inputs = processor_inputs(processor, wav, prompt)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return processor.tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()


def accuracy(item, prediction: str) -> float:
    """1/0 for choice and exact items, ``max(0, 1 - WER)`` for wer items."""
    value = score(item, prediction)
    return max(0.0, 1.0 - value) if item.metric == "wer" else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="src/headrouter/assets/proving_ground")
    parser.add_argument("--per-task", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--max-seconds", type=float, default=64.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, processor = load_model(args.model, dtype="float32"), load_processor(args.model)
    start = time.time()
    per_task: dict[str, list[float]] = {}
    long_hits: list[float] = []
    for task in TASKS:
        for i in range(args.per_task):
            example = make_example(task, i, args.seed, max_seconds=args.max_seconds)
            value = accuracy(example.item, answer(model, processor, example.audio, format_prompt(example.item)))
            per_task.setdefault(task, []).append(value)
            if example.audio.size >= 40 * 16_000:
                long_hits.append(value)
        print(f"{task:15s} {np.mean(per_task[task]):.3f}  ({time.time() - start:.0f} s)", flush=True)
    families: dict[str, list[float]] = {}
    for task, values in per_task.items():
        families.setdefault(TASKS[task].task_type, []).extend(values)
    result = {
        "tasks": {t: float(np.mean(v)) for t, v in per_task.items()},
        "families": {f: float(np.mean(v)) for f, v in families.items()},
        "clips_40s_or_longer": {"count": len(long_hits), "accuracy": float(np.mean(long_hits)) if long_hits else None},
        "per_task": args.per_task,
        "seed": args.seed,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
