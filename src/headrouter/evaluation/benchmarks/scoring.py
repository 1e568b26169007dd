"""Benchmark scoring rules: how a benchmark reads an answer out of a model's text, scores one item, and scores a task.

An item scored by a benchmark's rule names it in its ``metric`` (``Item.metric``). A :class:`Rule` has two parts,
both taken from the benchmark's own evaluation code (each rule's ``source`` names the repository and path):

- ``read(item, prediction)``: the answer the benchmark reads out of the prediction (a choice letter, a label, a
  choice text, a cleaned transcript; ``""`` when it reads none). An item is right when the reading equals its
  ``answer`` (or, for transcription rules, its word error rate is ``error_rate(answer, reading)``).
- ``task_metric``: how a task's items combine into the task's figure: ``accuracy`` (mean of right/wrong),
  ``macro_f1`` / ``weighted_f1`` (scikit-learn's ``precision_recall_fscore_support`` with ``zero_division=0`` over
  the items whose reading and answer are both valid labels, as AudioMarathon's scripts compute it), or
  ``word_accuracy`` (1 - mean word error rate, AudioMarathon's ASR figure, 100 - WER on its leaderboard).

Rules register themselves when their benchmark module is imported (:func:`register_rule`); :func:`get_rule` imports
every benchmark module first, so a rule name read from an items file resolves without the caller importing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headrouter.evaluation.tasks.items import Item

TASK_METRICS = ("accuracy", "macro_f1", "weighted_f1", "word_accuracy")


@dataclass(frozen=True)
class TaskMetric:
    """How a task's items combine into one figure.

    ``kind`` is one of :data:`TASK_METRICS`. For the F1 kinds: ``valid`` is the label set a pair must fall in to
    count (a fixed tuple, or None for the ground truths seen in the task), and ``labels`` says which labels are
    averaged: ``"valid"`` (all of the valid set, as scikit-learn does when given ``labels=``; a label with no items
    scores 0) or ``"observed"`` (those that occur among the counted pairs' answers or readings, scikit-learn's
    default when not given ``labels=``).
    """

    kind: str = "accuracy"
    valid: tuple[str, ...] | None = None
    labels: str = "observed"

    def __post_init__(self) -> None:
        if self.kind not in TASK_METRICS:
            raise ValueError(f"task metric kind must be one of {TASK_METRICS}, got {self.kind!r}")
        if self.labels not in ("valid", "observed"):
            raise ValueError(f"labels must be 'valid' or 'observed', got {self.labels!r}")

    def combine(self, answers: Sequence[str], readings: Sequence[str], scores: Sequence[float]) -> float | None:
        """The task's figure from its items' answers, readings and per-item scores (None for no items)."""
        if not scores:
            return None
        if self.kind in ("accuracy", "word_accuracy"):
            return float(sum(scores) / len(scores))
        valid = set(self.valid) if self.valid is not None else set(answers)
        pairs = [(a, r) for a, r in zip(answers, readings, strict=True) if a in valid and r in valid]
        if not pairs:
            return 0.0
        labels = sorted(valid) if self.labels == "valid" else sorted({x for pair in pairs for x in pair})
        return f1_score(pairs, labels, weighted=self.kind == "weighted_f1")


def f1_score(pairs: Sequence[tuple[str, str]], labels: Sequence[str], weighted: bool = False) -> float:
    """Macro (or support-weighted) F1 over ``labels`` of ``(truth, prediction)`` pairs, a label's F1 being 0 where
    its precision and recall are both 0 or undefined (scikit-learn with ``zero_division=0``)."""
    f1s, supports = [], []
    for label in labels:
        tp = sum(t == label and p == label for t, p in pairs)
        fp = sum(t != label and p == label for t, p in pairs)
        fn = sum(t == label and p != label for t, p in pairs)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        supports.append(tp + fn)
    if not weighted:
        return float(sum(f1s) / len(f1s)) if f1s else 0.0
    total = sum(supports)
    return float(sum(f * s for f, s in zip(f1s, supports, strict=True)) / total) if total else 0.0


@dataclass(frozen=True)
class Rule:
    """A benchmark's scoring rule (see the module doc). ``error_rate(reference, reading)`` makes it a transcription
    rule: the item's raw value is that word error rate and its score ``1 - WER`` (not floored, as the benchmark
    averages it)."""

    name: str
    source: str
    read: Callable[[Item, str], str]
    task_metric: TaskMetric = TaskMetric()
    error_rate: Callable[[str, str], float] | None = None

    def judge(self, item: Item, prediction: str) -> tuple[float, float, str]:
        """``(score, raw, reading)`` of one item (see :func:`headrouter.evaluation.tasks.items.judge`)."""
        reading = self.read(item, prediction)
        if self.error_rate is not None:
            wer = float(self.error_rate(item.answer, reading))
            return 1.0 - wer, wer, reading
        right = float(reading == item.answer)
        return right, right, reading


_RULES: dict[str, Rule] = {}


def register_rule(rule: Rule) -> Rule:
    """Add ``rule`` under its name; ``ValueError`` if another rule has that name."""
    if rule.name in _RULES and _RULES[rule.name] is not rule:
        raise ValueError(f"a scoring rule named {rule.name!r} is already registered")
    _RULES[rule.name] = rule
    return rule


def get_rule(name: str) -> Rule:
    """The rule named ``name``; ``ValueError`` listing the known rules otherwise."""
    _load_benchmarks()
    if name not in _RULES:
        raise ValueError(f"unknown scoring rule {name!r}; known rules: {', '.join(sorted(_RULES))}")
    return _RULES[name]


def has_rule(name: str) -> bool:
    """Whether a rule named ``name`` is registered."""
    _load_benchmarks()
    return name in _RULES


def _load_benchmarks() -> None:
    """Import every benchmark module, which registers their rules."""
    import headrouter.evaluation.benchmarks  # noqa: F401
