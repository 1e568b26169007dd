"""Evidence knockout on the long proving ground: does the model still answer right when an item's evidence tokens are
gone, and where does the evidence go? The question behind the evidence-recall tables: pruning methods that keep far
more of the evidence score the same.

    python benchmarks/evidence_knockout.py [--model DIR] [--data ITEMS] [--per-task 20] [--margin 5]

For every item answered right unpruned (score 1; the items are evidence_recall.py's: the first ``--per-task`` of each
task), greedy answers with the evidence tokens (headrouter.evaluation.evidence, widened by ``--margin`` tokens on each
side in the ``+margin`` rows) taken away in one of three places:

- ``tower``: the audio tower's output at those tokens replaced by the mean of the clip's other audio tokens, so no
  decoder layer sees them; what is left of the event is what the tower's attention carried into other tokens;
- ``K=1`` / ``K=2``: dropped at decoder layer K (the layers before K see them, those from K on do not), as pruning
  drops tokens;
- ``control K=2``: as many tokens dropped at K = 2, drawn at random among the others (seeded per item);
- ``K=2, a tenth kept``: the evidence tokens dropped at K = 2 but a random tenth of them (at least one), as a method
  whose evidence recall is 0.1 keeps them.

``OUT/per_item.jsonl`` holds each item's answers as it finishes (its first line the settings: a stopped run continues,
a run with other settings is refused); ``OUT/results.md`` the share still right per task and family with 95% bootstrap
intervals over items.
"""

from __future__ import annotations

import argparse
import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from per_item import FAMILIES, open_journal, pick
from tqdm.auto import tqdm

from headrouter.adapters import adapter_for, load_model, load_processor
from headrouter.api import pruning
from headrouter.audio import load_audio
from headrouter.evaluation.bootstrap import mean_replicates, percentile_interval, resample_indices
from headrouter.evaluation.evidence import evidence_spans, evidence_tokens
from headrouter.evaluation.journal import weights_fingerprint
from headrouter.evaluation.runner import load_items
from headrouter.evaluation.tasks.items import format_prompt, judge
from headrouter.methods import ScoringContext, ScoringMethod

MAX_NEW_TOKENS = 16


@dataclass(repr=False)
class Knockout(ScoringMethod):
    """Keeps every audio token but ``drop`` (audio-token indices of a one-sample batch): score 0 there, 1 elsewhere."""

    name = "knockout"
    drop: tuple[int, ...] = ()

    def score(self, ctx: ScoringContext) -> torch.Tensor:
        scores = torch.zeros(ctx.audio_mask.shape, dtype=torch.float32, device=ctx.audio_mask.device)
        positions = ctx.audio_mask[0].nonzero().squeeze(-1)
        scores[0, positions] = 1.0
        scores[0, positions[list(self.drop)]] = 0.0
        return scores


@contextmanager
def tower_knockout(tower: torch.nn.Module, drop: list[int], tokens: int):
    """Within the block, the tower's output rows ``drop`` (one clip of ``tokens`` audio tokens) are the mean of its
    other rows."""

    def hook(module, args, output):
        states = output.last_hidden_state
        if states.shape[0] != tokens:
            raise RuntimeError(f"the audio tower gave {states.shape[0]} rows for a clip of {tokens} audio tokens")
        others = torch.ones(states.shape[0], dtype=torch.bool, device=states.device)
        others[drop] = False
        states[drop] = states[others].mean(0).to(states.dtype)
        return output

    handle = tower.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def answer(model, processor, inputs: dict, item) -> float:
    """The item's score for the model's greedy answer."""
    length = inputs["input_ids"].shape[1]
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False, num_beams=1)
    text = processor.batch_decode(out[:, length:], skip_special_tokens=True)[0].strip()
    return judge(item, text)[0]


def widen(tokens: set[int], margin: int, n: int) -> list[int]:
    """``tokens`` and every token within ``margin`` of one, inside ``[0, n)``, sorted."""
    return sorted({j for i in tokens for j in range(max(0, i - margin), min(n, i + margin + 1))})


def knockouts(model, processor, adapter, item, margin: int) -> dict[str, float]:
    """Every setting's score for one item (the module docstring)."""
    wav = load_audio(item.audio, adapter.sampling_rate(processor))
    inputs = dict(adapter.build_inputs(processor, [wav], [format_prompt(item)]))
    n = int(adapter.audio_mask(inputs["input_ids"]).sum())
    exact = evidence_tokens(evidence_spans(item), n, n / (wav.size / adapter.sampling_rate(processor)))
    scores = {"unpruned": answer(model, processor, inputs, item)}
    if scores["unpruned"] != 1.0:
        return scores
    for suffix, drop in (("", sorted(exact)), ("+margin", widen(exact, margin, n))):
        with tower_knockout(adapter.audio_tower, drop, n):
            scores[f"tower{suffix}"] = answer(model, processor, inputs, item)
        for layer in (1, 2):
            scores[f"K={layer}{suffix}"] = dropped_at(layer, model, processor, inputs, item, drop, n)
        rng = np.random.default_rng(list(item.id.encode()))
        control = rng.choice(np.setdiff1d(np.arange(n), drop), size=len(drop), replace=False).tolist()
        scores[f"control K=2{suffix}"] = dropped_at(2, model, processor, inputs, item, control, n)
    # as the methods that keep under a tenth of an event's tokens: a random tenth of them stays
    evidence = sorted(exact)
    stay = np.random.default_rng(list(item.id.encode())).choice(evidence, size=-(-len(evidence) // 10), replace=False)
    scores["K=2, a tenth kept"] = dropped_at(2, model, processor, inputs, item, sorted(set(evidence) - set(stay)), n)
    return scores


def dropped_at(layer: int, model, processor, inputs: dict, item, drop: list[int], n: int) -> float:
    """The item's score with the audio tokens ``drop`` (of ``n``) dropped at decoder layer ``layer``."""
    with pruning(model, (n - len(drop)) / n, prune_layer=layer, method=Knockout(drop=tuple(sorted(drop)))):
        return answer(model, processor, inputs, item)


def summarize(rows: list[dict], margin: int) -> str:
    """Share still right [95% interval] per setting, per task and family, over the items right unpruned."""
    right = [r for r in rows if r["scores"]["unpruned"] == 1.0]
    names = [s for s in right[0]["scores"] if s != "unpruned"] if right else []
    lines = [
        f"Of the {len(rows)} items, {len(right)} are answered right unpruned; the share of those still right with "
        f"the evidence tokens taken away (`+margin`: widened by {margin} tokens, {margin / 25:.2f} s, on each side).",
        "",
        "| task | items | " + " | ".join(names) + " |",
        "|---" * (2 + len(names)) + "|",
    ]
    for group in [*dict.fromkeys(r["task"] for r in rows), *FAMILIES]:
        mine = [r for r in right if group in (r["task"], r["task_type"])]
        cells = []
        for name in names:
            values = [r["scores"][name] for r in mine]
            if len(values) < 2:
                cells.append(f"{100 * np.mean(values):.0f}" if values else "-")
                continue
            low, high = percentile_interval(mean_replicates(values, resample_indices(len(values), group)))
            cells.append(f"{100 * np.mean(values):.0f} [{100 * low:.0f}, {100 * high:.0f}]")
        name = f"**{group}**" if group in FAMILIES else group
        lines.append(f"| {name} | {len(mine)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("benchmarks/models/proving_ground_long"))
    parser.add_argument("--data", type=Path, default=Path("data/long_heldout/items.jsonl"))
    parser.add_argument("--per-task", type=int, default=20)
    parser.add_argument("--margin", type=int, default=5, help="tokens added on each side in the +margin rows")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/evidence_knockout"))
    args = parser.parse_args()
    items = pick(load_items(args.data), args.per_task)
    model, processor = load_model(args.model), load_processor(args.model)
    adapter = adapter_for(model)
    settings = {
        "model": str(args.model),
        "model_weights": weights_fingerprint(model),
        "items": [item.id for item in items],
        "margin": args.margin,
    }
    journal, rows = open_journal(args.out, settings)
    done = {row["id"] for row in rows}
    with journal.open("a") as out:
        for item in tqdm([i for i in items if i.id not in done], desc="evidence knockout", unit="item"):
            row = {"id": item.id, "task": item.task, "task_type": item.task_type}
            row["scores"] = knockouts(model, processor, adapter, item, args.margin)
            out.write(json.dumps(row) + "\n")
            out.flush()
            rows.append(row)
    text = f"Evidence knockout, {args.data} ({args.per_task} per task).\n\n" + summarize(rows, args.margin)
    (args.out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
