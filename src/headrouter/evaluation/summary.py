"""Summary rows of an evaluation: per task, per domain (speech, sound, music), per task family and overall, the score
of every setting, its percent of the unpruned score, audio tokens, prefill time and routing share (see
:mod:`headrouter.evaluation.runner`).

A task's score is the mean of its items' scores, or, for a task whose items a benchmark rule scores, the rule's own
task metric (e.g. AudioMarathon's macro F1, :mod:`headrouter.evaluation.benchmarks.scoring`). A domain's, a family's
and the overall score are the mean of their tasks' scores.

Every row also has ``score_ci`` and ``percent_of_unpruned_ci``: ``[low, high]`` 95% bootstrap intervals over items
(:mod:`headrouter.evaluation.bootstrap`: paired across settings, stratified by task, seeded). A task's resamples
recompute its figure: the mean item score, or the rule's task metric (macro F1 ...) on the resampled items. An interval
is None where it cannot be had: a task of fewer than :data:`~headrouter.evaluation.bootstrap.MIN_ITEMS` items (a
group whose tasks all are), a setting whose items are not the task's items (nothing to pair), or a percent whose
unpruned score is 0; resamples whose unpruned score is 0 are left out of the percent's interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from headrouter.evaluation.benchmarks.scoring import Rule, get_rule
from headrouter.evaluation.bootstrap import (
    MEAN_METRICS,
    MIN_ITEMS,
    RESAMPLES,
    SEED,
    check_resamples,
    mean_replicates,
    metric_replicates,
    percent_replicates,
    percentile_interval,
    resample_indices,
)
from headrouter.evaluation.tasks.items import METRICS

DOMAINS = ("speech", "sound", "music")
"""The report's domain columns, in this order (other domains follow, sorted)."""

UNPRUNED = "none"
"""The method name of the unpruned setting in results (its keep ratio is None)."""


@dataclass(frozen=True)
class Setting:
    """One way of answering: unpruned (``method == "none"``, ``keep_ratio is None``) or a method at a keep ratio."""

    method: str
    keep_ratio: float | None


def summarize(
    predictions: Sequence[dict], settings: Sequence[Setting], *, resamples: int = RESAMPLES, seed: int = SEED
) -> dict:
    """Summary rows from prediction rows: ``{"tasks": [...], "domains": [...], "families": [...], "overall": [...]}``.

    Every row has ``task``, ``task_type`` and ``domain`` (None where it spans several), ``method``, ``keep_ratio``,
    ``items``, ``tasks`` (how many tasks it averages), ``score``, ``percent_of_unpruned``, ``score_ci``,
    ``percent_of_unpruned_ci`` (bootstrap intervals of ``resamples`` resamples seeded by ``seed``, see the module doc),
    ``audio_tokens_before``, ``audio_tokens_after``, ``prefill_ms``, ``prefill_vs_unpruned`` and
    ``routed_to_own_type``; task rows also ``metric`` (``accuracy``, ``wer`` or ``mixed``, or a benchmark rule's task
    metric: ``macro_f1``, ``weighted_f1``, ``word_accuracy``), ``accuracy`` (mean over right/wrong items) and ``wer``
    (mean over transcription items). Prediction rows are paired across settings by their ``id``.
    """
    check_resamples(resamples)
    by_setting: dict[Setting, list[dict]] = {s: [] for s in settings}
    for row in predictions:
        by_setting[Setting(row["method"], row["keep_ratio"])].append(row)
    tasks = sorted({(r["task_type"], r["task"]) for r in predictions})
    families = sorted({family for family, _ in tasks})
    domain_of: dict[tuple[str, str], set] = {t: set() for t in tasks}
    for r in predictions:
        domain_of[(r["task_type"], r["task"])].add(r.get("domain"))

    task_rows = []
    replicates: dict[tuple[str, str, Setting], np.ndarray | None] = {}
    for family, task in tasks:
        domain = next(iter(domain_of[family, task])) if len(domain_of[family, task]) == 1 else None
        ids = sorted({r["id"] for r in predictions if (r["task_type"], r["task"]) == (family, task)}, key=str)
        indices = resample_indices(len(ids), f"{family}/{task}", resamples, seed)
        for setting in settings:
            rows = [r for r in by_setting[setting] if r["task"] == task and r["task_type"] == family]
            wer = [r["raw"] for r in rows if _is_wer(r["metric"])]
            acc = [r["raw"] for r in rows if not _is_wer(r["metric"])]
            rule = _rule_of(rows)
            if rule is not None:
                metric = rule.task_metric.kind
                score = rule.task_metric.combine(
                    [r["answer"] for r in rows], [r["reading"] for r in rows], [r["score"] for r in rows]
                )
            else:
                metric = "mixed" if wer and acc else ("wer" if wer else "accuracy")
                score = _mean([r["score"] for r in rows])
            replicates[family, task, setting] = _task_replicates(rows, ids, rule, indices)
            task_rows.append(
                {
                    "task": task,
                    "task_type": family,
                    "domain": domain,
                    "method": setting.method,
                    "keep_ratio": setting.keep_ratio,
                    "items": len(rows),
                    "tasks": 1,
                    "metric": metric,
                    "accuracy": _mean(acc),
                    "wer": _mean(wer),
                    "score": score,
                    **_costs(rows),
                    "_replicates": replicates[family, task, setting] if len(rows) >= MIN_ITEMS else None,
                }
            )
    _add_relative(task_rows, key=lambda r: (r["task_type"], r["task"]))

    domains = {r["domain"] for r in task_rows if r["domain"] is not None}
    domain_rows = []
    for domain in [d for d in DOMAINS if d in domains] + sorted(domains - set(DOMAINS)):
        scope = {(r["task_type"], r["task"]) for r in task_rows if r["domain"] == domain}
        domain_rows += _group(task_rows, by_setting, replicates, scope, None, domain)
    _add_relative(domain_rows, key=lambda r: r["domain"])
    family_rows = []
    for family in families:
        family_rows += _group(task_rows, by_setting, replicates, {t for t in tasks if t[0] == family}, family, None)
    _add_relative(family_rows, key=lambda r: r["task_type"])
    overall = _group(task_rows, by_setting, replicates, set(tasks), None, None)
    _add_relative(overall, key=lambda r: None)
    return {"tasks": task_rows, "domains": domain_rows, "families": family_rows, "overall": overall}


def _is_wer(metric: str) -> bool:
    """Whether items of ``metric`` are transcriptions (their raw value a word error rate)."""
    return metric == "wer" if metric in METRICS else get_rule(metric).error_rate is not None


def _rule_of(rows: Sequence[dict]) -> Rule | None:
    """The benchmark rule that scores every one of ``rows``, or None (headrouter's rules, or a mix)."""
    metrics = {r["metric"] for r in rows}
    if len(metrics) != 1:
        return None
    (metric,) = metrics
    return None if metric in METRICS else get_rule(metric)


def _task_replicates(rows: Sequence[dict], ids: Sequence, rule: Rule | None, indices: np.ndarray) -> np.ndarray | None:
    """The task's figure on every resample of its items ``ids`` (rows of ``indices``), or None where ``rows`` are
    not one row for each of ``ids`` (their scores cannot be paired with the other settings')."""
    by_id = {r["id"]: r for r in rows}
    if len(rows) != len(ids) or set(by_id) != set(ids):
        return None
    ordered = [by_id[i] for i in ids]
    scores = [r["score"] for r in ordered]
    if rule is None or rule.task_metric.kind in MEAN_METRICS:
        return mean_replicates(scores, indices)
    answers, readings = [r["answer"] for r in ordered], [r["reading"] for r in ordered]
    return metric_replicates(
        lambda pick: rule.task_metric.combine(
            [answers[i] for i in pick], [readings[i] for i in pick], [scores[i] for i in pick]
        ),
        indices,
    )


def _group(
    task_rows: list[dict],
    by_setting: dict[Setting, list[dict]],
    replicates: dict[tuple[str, str, Setting], np.ndarray | None],
    scope: set[tuple[str, str]],
    family: str | None,
    domain: str | None,
) -> list[dict]:
    """One row per setting over the (family, task) pairs in ``scope``: the mean of their task scores (and of their
    resampled scores), and the per-item means of tokens and prefill time."""
    out = []
    for setting, predictions in by_setting.items():
        parts = [
            r
            for r in task_rows
            if (r["task_type"], r["task"]) in scope and Setting(r["method"], r["keep_ratio"]) == setting
        ]
        rows = [r for r in predictions if (r["task_type"], r["task"]) in scope]
        scored = [p for p in parts if p["score"] is not None]
        draws = [replicates[p["task_type"], p["task"], setting] for p in scored]
        resampled = any(p["items"] >= MIN_ITEMS for p in scored) and all(d is not None for d in draws)
        out.append(
            {
                "task": None,
                "task_type": family,
                "domain": domain,
                "method": setting.method,
                "keep_ratio": setting.keep_ratio,
                "items": len(rows),
                "tasks": len(parts),
                "score": _mean([p["score"] for p in scored]),
                **_costs(rows),
                "_replicates": np.mean(draws, axis=0) if resampled else None,
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
    """``percent_of_unpruned`` and ``prefill_vs_unpruned`` against the unpruned row of the same group, and the
    intervals ``score_ci`` and ``percent_of_unpruned_ci`` from the rows' resampled scores (``_replicates``, removed)."""
    base = {key(r): r for r in rows if r["method"] == UNPRUNED}
    for row in rows:
        ref = base[key(row)]
        row["percent_of_unpruned"] = 100.0 * (row["score"] / ref["score"]) if ref["score"] else None
        row["prefill_vs_unpruned"] = row["prefill_ms"] / ref["prefill_ms"] if ref["prefill_ms"] else None
        draws, base_draws = row["_replicates"], ref["_replicates"]
        row["score_ci"] = percentile_interval(draws)
        paired = draws is not None and base_draws is not None and row["percent_of_unpruned"] is not None
        row["percent_of_unpruned_ci"] = percentile_interval(percent_replicates(draws, base_draws)) if paired else None
    for row in rows:  # only now: every row of a group reads its unpruned row's replicates
        del row["_replicates"]


def _mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None
