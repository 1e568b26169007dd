"""Calibration samples: one clip, its prompt and its task type; read from JSON lines (own format or evaluation items)
and checked against the declared task types before any model work."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class CalibrationSample:
    """One calibration item: audio (a file path, or an array with its ``sampling_rate``), a prompt, and in ``task``
    its task *type* (``semantic``, ``acoustic``, ...: a key of the table, not an item's task like ``pitch_class``)."""

    audio: str | Path | np.ndarray
    prompt: str
    task: str
    sampling_rate: int | None = None

    @property
    def name(self) -> str:
        return str(self.audio) if not isinstance(self.audio, np.ndarray) else f"<array of {self.audio.size} samples>"


def load_samples(path: str | Path) -> list[CalibrationSample]:
    """Read a JSON-lines file of ``{"audio": PATH, "prompt": TEXT, "task": TYPE}``, or of evaluation items
    (``evaluation.tasks.items``: the prompt is ``format_prompt(item)``, exactly what evaluation sends, and the
    task is the item's ``task_type``), so the same items format serves calibration and evaluation. Relative audio
    paths are taken relative to the file's folder."""
    from headrouter.evaluation.tasks.items import Item, format_prompt

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"calibration data file {path} not found")
    samples = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if isinstance(data, dict) and "question" in data:
                item = Item(**data)
                audio, prompt, task_type = Path(item.audio), format_prompt(item), item.task_type
            else:
                audio, prompt, task_type = Path(data["audio"]), data["prompt"], data["task"]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"{path}:{number}: expected a JSON object with audio, prompt and task, or an evaluation item ({error})"
            ) from error
        samples.append(CalibrationSample(audio if audio.is_absolute() else path.parent / audio, prompt, task_type))
    return samples


def check_tasks(samples: Sequence[CalibrationSample], tasks: Sequence[str]) -> None:
    """``ValueError`` unless ``tasks`` are distinct, every sample's task type is one of them and each of them has a
    sample: the checks :func:`calibrate` makes before any model work, for callers that can make them before loading
    the model."""
    if not samples:
        raise ValueError("samples is empty: calibration needs at least one sample per task type")
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"tasks must not repeat, got {list(tasks)}")
    unknown = sorted({str(s.task) for s in samples} - set(tasks))
    if unknown:
        raise ValueError(f"samples have task types {unknown} not in tasks={list(tasks)}")
    missing = [t for t in tasks if not any(s.task == t for s in samples)]
    if missing:
        raise ValueError(f"no calibration sample of task type {missing}; each of {list(tasks)} needs at least one")
