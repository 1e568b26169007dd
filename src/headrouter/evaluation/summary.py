"""Summary rows of an evaluation: per task, per task family and overall, the score of every setting, its percent of
the unpruned score, audio tokens, prefill time and routing share (see :mod:`headrouter.evaluation.runner`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

UNPRUNED = "none"
"""The method name of the unpruned setting in results (its keep ratio is None)."""


@dataclass(frozen=True)
class Setting:
    """One way of answering: unpruned (``method == "none"``, ``keep_ratio is None``) or a method at a keep ratio."""

    method: str
    keep_ratio: float | None


def summarize(predictions: Sequence[dict], settings: Sequence[Setting]) -> dict:
    """Summary rows from prediction rows: ``{"tasks": [...], "families": [...], "overall": [...]}``.

    Every row has ``task``, ``task_type`` (None where it spans several), ``method``, ``keep_ratio``, ``items``,
    ``tasks`` (how many tasks it averages), ``score``, ``percent_of_unpruned``, ``audio_tokens_before``,
    ``audio_tokens_after``, ``prefill_ms``, ``prefill_vs_unpruned`` and ``routed_to_own_type``; task rows also
    ``metric`` (``accuracy``, ``wer`` or ``mixed``), ``accuracy`` (mean over choice/exact items) and ``wer`` (mean
    over wer items).
    """
    by_setting: dict[Setting, list[dict]] = {s: [] for s in settings}
    for row in predictions:
        by_setting[Setting(row["method"], row["keep_ratio"])].append(row)
    tasks = sorted({(r["task_type"], r["task"]) for r in predictions})
    families = sorted({family for family, _ in tasks})

    task_rows = []
    for family, task in tasks:
        for setting in settings:
            rows = [r for r in by_setting[setting] if r["task"] == task and r["task_type"] == family]
            wer = [r["raw"] for r in rows if r["metric"] == "wer"]
            acc = [r["raw"] for r in rows if r["metric"] != "wer"]
            metric = "mixed" if wer and acc else ("wer" if wer else "accuracy")
            task_rows.append(
                {
                    "task": task,
                    "task_type": family,
                    "method": setting.method,
                    "keep_ratio": setting.keep_ratio,
                    "items": len(rows),
                    "tasks": 1,
                    "metric": metric,
                    "accuracy": _mean(acc),
                    "wer": _mean(wer),
                    "score": _mean([r["score"] for r in rows]),
                    **_costs(rows),
                }
            )
    _add_relative(task_rows, key=lambda r: (r["task_type"], r["task"]))

    family_rows = []
    for family in families:
        family_rows += _group(task_rows, by_setting, {t for t in tasks if t[0] == family}, family)
    _add_relative(family_rows, key=lambda r: r["task_type"])
    overall = _group(task_rows, by_setting, set(tasks), None)
    _add_relative(overall, key=lambda r: None)
    return {"tasks": task_rows, "families": family_rows, "overall": overall}


def _group(
    task_rows: list[dict], by_setting: dict[Setting, list[dict]], scope: set[tuple[str, str]], family: str | None
) -> list[dict]:
    """One row per setting over the (family, task) pairs in ``scope``: the mean of their task scores, and the
    per-item means of tokens and prefill time."""
    out = []
    for setting, predictions in by_setting.items():
        parts = [
            r
            for r in task_rows
            if (r["task_type"], r["task"]) in scope and Setting(r["method"], r["keep_ratio"]) == setting
        ]
        rows = [r for r in predictions if (r["task_type"], r["task"]) in scope]
        out.append(
            {
                "task": None,
                "task_type": family,
                "method": setting.method,
                "keep_ratio": setting.keep_ratio,
                "items": len(rows),
                "tasks": len(parts),
                "score": _mean([p["score"] for p in parts]),
                **_costs(rows),
            }
        )
    return out


def _costs(rows: Sequence[dict]) -> dict:
    routed = [r for r in rows if "task_mixture" in r.get("details", {})]
    own = [float(_routed_to(r["details"]["task_mixture"]) == r["task_type"]) for r in routed]
    return {
        "audio_tokens_before": _mean([r["audio_tokens_before"] for r in rows]),
        "audio_tokens_after": _mean([r["audio_tokens_after"] for r in rows]),
        "prefill_ms": _mean([r["prefill_ms"] for r in rows]),
        "routed_to_own_type": _mean(own),
    }


def _routed_to(mixture: dict[str, float]) -> str:
    """The task type a routed input leans to most."""
    return max(mixture, key=mixture.__getitem__)


def _add_relative(rows: list[dict], key: Callable[[dict], object]) -> None:
    """``percent_of_unpruned`` and ``prefill_vs_unpruned`` against the unpruned row of the same group."""
    base = {key(r): r for r in rows if r["method"] == UNPRUNED}
    for row in rows:
        ref = base[key(row)]
        row["percent_of_unpruned"] = 100.0 * (row["score"] / ref["score"]) if ref["score"] else None
        row["prefill_vs_unpruned"] = row["prefill_ms"] / ref["prefill_ms"] if ref["prefill_ms"] else None


def _mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None
