"""Benchmarks on disk read into evaluation items, each with its own scoring rule: the registry of formats.

=================  ======================================================================  ======================
name               data                                                                    module
=================  ======================================================================  ======================
``items``          headrouter's JSON-lines items file                                      ``tasks.items``
``audiomarathon``  the AudioMarathon folder (its ten tasks' metadata and audio)            :mod:`.audiomarathon`
``mmau-pro``       MMAU-Pro's ``test.parquet`` and unpacked ``data/`` (closed-ended)       :mod:`.mmau_pro`
``mmau``           MMAU's ``mmau-test-mini.json`` and ``test-mini-audios/``                :mod:`.mmau`
``hf``             a Hugging Face ``datasets`` audio dataset (save_to_disk, parquet, ...)  :mod:`.hf`
=================  ======================================================================  ======================

:func:`load_benchmark` reads one. The benchmark formats' items come task by task in turn (the first item of every task,
then the second, ...), so that the first N items (``--limit``) and a run stopped part way cover every task; a JSON-lines
items file keeps its own order. Scoring rules: :mod:`.scoring`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from headrouter.evaluation.benchmarks import audiomarathon, hf, mmau, mmau_pro
from headrouter.evaluation.tasks.items import Item, read_items

__all__ = ["BENCHMARKS", "Benchmark", "interleave", "load_benchmark"]


@dataclass(frozen=True)
class Benchmark:
    """A data format: its name, what ``--data`` points at, its loader (a path in, items out) and the answer length
    its items need when they name none (None: the run's ``max_new_tokens``)."""

    name: str
    data: str
    load: Callable[..., list[Item]]
    max_new_tokens: int | None = None


def _items_file(path: Path) -> list[Item]:
    if not path.is_file():
        raise FileNotFoundError(f"items file {path} not found")
    return read_items(path)


BENCHMARKS = {
    b.name: b
    for b in (
        Benchmark("items", "a JSON-lines items file", _items_file),
        Benchmark("audiomarathon", "the AudioMarathon folder", audiomarathon.load),
        Benchmark("mmau-pro", "MMAU-Pro's folder (test.parquet and data/)", mmau_pro.load, 64),
        Benchmark("mmau", "mmau-test-mini.json or its folder", mmau.load, 64),
        Benchmark("hf", "a datasets folder (save_to_disk), .parquet or .arrow", hf.load),
    )
}
"""The formats, by name. MMAU's and MMAU-Pro's answers are choice texts matched word by word, so they get 64 tokens
(headrouter's default of 16 cuts long choices off); AudioMarathon's items carry their scripts' own lengths."""


def load_benchmark(
    name: str,
    data: str | Path,
    *,
    limit: int | None = None,
    audio_dir: str | Path | None = None,
    columns: dict[str, str] | None = None,
    split: str | None = None,
    metric: str | None = None,
) -> list[Item]:
    """The items of benchmark ``name`` at ``data`` (interleaved by task, see the module doc), the first ``limit`` if
    given. ``audio_dir``, ``columns``, ``split`` and ``metric`` are for ``hf`` (:func:`.hf.load`); ``ValueError`` if
    given for another format, for an unknown name, a ``limit`` below 1, or data that holds no items."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    options = {"columns": columns, "split": split, "metric": metric}
    given = [key for key, value in options.items() if value is not None]
    if name != "hf" and given:
        raise ValueError(f"{', '.join(given)}: only for the hf benchmark, not {name}")
    path = Path(data)
    if name == "hf":
        items = hf.load(path, audio_dir=audio_dir, **options)
    else:
        items = BENCHMARKS[name].load(path)
    if name != "items":
        items = interleave(items)
    if not items:
        raise ValueError(f"{data} holds no items")
    return items[:limit] if limit is not None else items


def interleave(items: Sequence[Item]) -> list[Item]:
    """``items`` task by task in turn: the first of each task (in order of first appearance), then the second, ..."""
    by_task: dict[str, list[Item]] = {}
    for item in items:
        by_task.setdefault(item.task, []).append(item)
    queues = list(by_task.values())
    return [queue[i] for i in range(max(map(len, queues), default=0)) for queue in queues if i < len(queue)]
