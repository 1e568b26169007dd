"""The arguments of :func:`~headrouter.evaluation.runner.evaluate`: checked, and its methods made from their specs.

A method in ``methods`` is a spec (:func:`headrouter.methods.base.parse_spec`): a registered name, or a name with
settings (``headrouter[smooth=0.25]``, ``segment[inner=headrouter]``); result rows name it by the spec as written.
One setting belongs to evaluation rather than to the method: ``oracle`` (``headrouter[oracle]``) passes each item's
own ``task_type`` as the method's ``task``, one item at a time (oracle routing: the head weights of the item's own
task type, which separates routing error from the quality of the head weights). Items of one batch with different
task types are answered in one sub-batch per task type.
"""

from __future__ import annotations

import numbers
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from headrouter.evaluation.tasks.items import Item
from headrouter.methods import ScoringMethod, available_methods, get_method
from headrouter.methods.base import parse_spec

ORACLE = "oracle"
"""The spec flag of oracle routing: ``task=<the item's task_type>`` per item."""


def oracle_task(item: Item) -> dict[str, Any]:
    """The per-item settings of oracle routing: the item's own task type as ``task``."""
    return {"task": item.task_type}


@dataclass(frozen=True)
class MethodRun:
    """One method of a run: the method object, and the settings each item adds to it (None: the same for all)."""

    method: ScoringMethod
    per_item: Callable[[Item], dict[str, Any]] | None = None

    def groups(self, items: Sequence[Item]) -> list[tuple[list[int], ScoringMethod]]:
        """``[(indices into items, method), ...]``: the items that share their per-item settings, in order of first
        appearance, each with the method those settings make (all items and ``method`` itself without any)."""
        if self.per_item is None:
            return [(list(range(len(items))), self.method)]
        by_settings: dict[tuple, list[int]] = {}
        for i, item in enumerate(items):
            by_settings.setdefault(tuple(sorted(self.per_item(item).items())), []).append(i)
        base = self.method.settings()
        return [
            (indices, get_method(self.method.name, **{**base, **dict(key)})) for key, indices in by_settings.items()
        ]


def method_runs(methods: Sequence[str]) -> tuple[dict[str, MethodRun], dict[str, dict]]:
    """Each spec's :class:`MethodRun`, and its config as named (the method's :meth:`~ScoringMethod.config`, with
    ``"oracle": True`` where set) for the records; ``ValueError`` for oracle routing of a method without ``task``."""
    runs, configs = {}, {}
    for spec in methods:
        name, settings = parse_spec(spec)
        oracle = settings.pop(ORACLE, False)
        if not isinstance(oracle, bool):
            raise ValueError(f"method spec {spec!r}: {ORACLE} takes no value (write {name}[{ORACLE}])")
        method = get_method(name, **settings)
        if oracle and "task" not in method.settings():
            raise ValueError(f"method spec {spec!r}: oracle routing needs a method with a task setting (headrouter)")
        runs[spec] = MethodRun(method, oracle_task if oracle else None)
        configs[spec] = method.config() | ({ORACLE: True} if oracle else {})
    return runs, configs


def method_specs(methods: Iterable[str]) -> list[str]:
    """``methods`` as a list of method specs of registered methods; ``TypeError``/``ValueError`` naming what is
    allowed."""
    if isinstance(methods, str) or not isinstance(methods, Iterable):
        raise TypeError(f"methods must be a list of method names, got {type(methods).__name__} {methods!r}")
    methods, known = list(methods), available_methods()
    for method in methods:
        if not isinstance(method, str):
            raise TypeError(f"methods must be method names (str), got {type(method).__name__} {method!r}")
        if parse_spec(method)[0] not in known:
            raise ValueError(f"unknown method {method!r} in methods; known methods: {', '.join(known)}")
    return methods


def ratios(keep_ratios: Iterable[float]) -> list[float]:
    """``keep_ratios`` as a list of floats; ``TypeError`` for anything but numbers (a str or bool included)."""
    if isinstance(keep_ratios, str) or not isinstance(keep_ratios, Iterable):
        raise TypeError(f"keep_ratios must be a list of numbers in (0, 1], got {type(keep_ratios).__name__}")
    keep_ratios = list(keep_ratios)
    for ratio in keep_ratios:
        if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real):
            raise TypeError(f"keep_ratios must be numbers in (0, 1], got {type(ratio).__name__} {ratio!r}")
    return [float(k) for k in keep_ratios]


def check_arguments(
    items: list[Item], methods: list[str], keep_ratios: list[float], max_new_tokens: int, batch_size: int
) -> None:
    """``ValueError``/``TypeError`` for anything :func:`evaluate` cannot run with."""
    if not items:
        raise ValueError("items is empty")
    repeated = sorted(i for i, n in Counter(item.id for item in items).items() if n > 1)
    if repeated:
        raise ValueError(f"item ids must be unique; repeated: {', '.join(repeated[:5])}")
    for name, value in (("max_new_tokens", max_new_tokens), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if len(set(methods)) != len(methods) or len(set(keep_ratios)) != len(keep_ratios):
        raise ValueError(f"methods and keep ratios must not repeat, got {methods} and {keep_ratios}")
    if methods and not keep_ratios:
        raise ValueError("keep_ratios is empty: give at least one keep ratio for the methods")
    bad = [k for k in keep_ratios if not 0.0 < k <= 1.0]
    if bad:
        raise ValueError(f"keep ratios must be in (0, 1], got {bad}")
