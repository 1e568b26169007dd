"""Bootstrap intervals over items: the sampling error of a score and of its percent of the unpruned score.

A task's items are resampled with replacement :data:`RESAMPLES` times (an ``(R, n)`` index matrix drawn by
:func:`resample_indices`, seeded by :data:`SEED` and the task's name, so a report is reproducible and a task's interval
does not depend on which other tasks were run). The same index matrix serves every setting of the task: each item is
answered under every setting, so the unpruned and the pruned scores of one resample are scores on the same items
(paired), and the percent of unpruned is taken resample by resample. A domain's, a family's and the overall figure
resample within each task (stratified) and take the mean of the tasks' resampled scores, as the point estimate does.
The interval is the 2.5th and 97.5th percentile of the resampled figures (:func:`percentile_interval`).
:func:`items_to_resolve` says how far a set of items is from telling two methods apart.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import numpy as np

RESAMPLES = 1000
"""Bootstrap resamples per interval."""

SEED = 0
"""The default seed; with the task's name it seeds the task's resamples."""

LEVEL = 0.95
"""The coverage of the percentile intervals."""

MIN_ITEMS = 2
"""Fewer items than this give no interval (one item resamples only to itself)."""

MEAN_METRICS = ("accuracy", "word_accuracy")
"""Task metrics that are the mean of the items' scores (resampled vectorised; others are recomputed per resample)."""


def resample_indices(n: int, key: str, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """An ``(resamples, n)`` matrix of item indices drawn with replacement, seeded by ``seed`` and ``key``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    check_resamples(resamples)
    rng = np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])
    return rng.integers(0, n, size=(resamples, n))


def check_resamples(resamples: int) -> None:
    """``ValueError`` unless ``resamples`` is an int >= 1."""
    if not isinstance(resamples, int) or isinstance(resamples, bool) or resamples < 1:
        raise ValueError(f"resamples must be an int >= 1, got {resamples!r}")


def mean_replicates(scores: Sequence[float], indices: np.ndarray) -> np.ndarray:
    """The mean item score of every resample (one row of ``indices`` each)."""
    return np.asarray(scores, dtype=float)[indices].mean(axis=1)


def metric_replicates(combine: Callable[[np.ndarray], float | None], indices: np.ndarray) -> np.ndarray:
    """``combine(row)`` (a task metric of the items a row of ``indices`` picks) for every resample; NaN for None."""
    values = [combine(row) for row in indices]
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def percent_replicates(replicates: np.ndarray, base: np.ndarray) -> np.ndarray:
    """``100 * replicates / base`` resample by resample; NaN where the base is 0 (the percent is undefined there)."""
    out = np.full(replicates.shape, np.nan)
    np.divide(replicates, base, out=out, where=base != 0)
    return 100.0 * out


def percentile_interval(replicates: np.ndarray | None, level: float = LEVEL) -> list[float] | None:
    """``[low, high]``: the central ``level`` percentile interval of the defined (finite) replicates; None if there
    are none. A list rather than a tuple, so that a row read back from JSON equals the row written."""
    if replicates is None:
        return None
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    values = replicates[np.isfinite(replicates)]
    if values.size == 0:
        return None
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return [float(low), float(high)]


def items_to_resolve(lead: float, interval: Sequence[float], items: int) -> float:
    """The items a paired difference ``lead`` (interval ``[low, high]`` on ``items`` items) would need for its
    interval to exclude 0 if the items' spread stayed as it is: the half-width shrinks as 1 / sqrt(items), so
    ``items * (half-width / |lead|) ** 2``. ``items`` itself where the interval already excludes 0; inf for a lead of
    0. A planning figure (is a set too small for differences of this size?), not a significance test."""
    if isinstance(items, bool) or not isinstance(items, int) or items < 1:
        raise ValueError(f"items must be an int >= 1, got {items!r}")
    low, high = (float(v) for v in interval)
    if not low <= high:
        raise ValueError(f"interval must be [low, high] with low <= high, got {list(interval)}")
    if low > 0 or high < 0:
        return float(items)
    if lead == 0:
        return float("inf")
    return max(float(items), items * ((high - low) / 2 / abs(lead)) ** 2)
