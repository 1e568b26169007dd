"""MMAU-Pro: the released ``test.parquet`` read into items (its closed-ended, single-clip questions), scored with
MMAU's answer matching.

Format (huggingface.co/datasets/gamma-lab-umd/MMAU-Pro; columns as the official evaluator
github.com/sonalkum/MMAUPro ``evaluate_mmau_pro_comprehensive.py`` reads them): ``test.parquet`` with one row per
question: ``id``, ``audio_path`` (a list of paths such as ``data/<uuid>.wav``, relative to the folder ``data.zip`` is
unpacked in, next to the parquet), ``question``, ``choices`` (a list; empty for open-ended questions), ``answer``,
``category`` (``sound``, ``music``, ``speech``, ``multi``, ``open``, ``instruction following``, ...) and further
columns (kept in ``extra``).

What is evaluated, and how it differs from the official scorer:

- Closed-ended questions (every category but ``open`` and ``instruction following``, with more than one choice: the
  evaluator's own filter). The official scorer maps a prediction to the choice nearest in NV-Embed-v2 embedding
  space and reports accuracy; that needs a 7B embedding model, so here the prediction is matched with MMAU's
  ``string_match`` (:mod:`~headrouter.evaluation.benchmarks.mmau`) instead. Figures are therefore MMAU-style accuracy
  on MMAU-Pro's questions, not the official MMAU-Pro numbers.
- Left out, counted in the log: open-ended questions (the official scorer grades them with a Qwen2.5-7B judge),
  instruction-following questions (format checks; not implemented) and questions over more than one clip (an item
  has one clip).

``task`` is the category; ``domain`` and ``task_type`` follow :data:`~headrouter.evaluation.benchmarks.mmau.TASK_TYPES`
for speech, sound and music (other categories: no domain, task type ``other``). Missing audio files are an error
listing them; a closed-ended row without an answer is a ``ValueError`` naming the file and row.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from headrouter.evaluation.benchmarks.mmau import RULE, TASK_TYPES
from headrouter.evaluation.benchmarks.records import check_audio, extra_fields
from headrouter.evaluation.tasks.items import Item

logger = logging.getLogger("headrouter")

FILE = "test.parquet"
NOT_CLOSED = ("open", "instruction following")


def load(path: str | Path) -> list[Item]:
    """The closed-ended single-clip items of MMAU-Pro's ``test.parquet`` (the file, or the folder holding it and the
    unpacked ``data/``)."""
    path = Path(path)
    file = path / FILE if path.is_dir() else path
    if not file.is_file():
        raise ValueError(
            f"MMAU-Pro data {path}: no {FILE} there" if path.is_dir() else f"MMAU-Pro file {path} not found"
        )
    items, left_out = [], Counter()
    for index, row in enumerate(read_parquet(file)):
        why = _left_out(row)
        if why:
            left_out[why] += 1
            continue
        items.append(_item(row, index, file))
    for why, count in left_out.items():
        logger.info("mmau-pro: left out %d %s", count, why)
    if not items:
        raise ValueError(f"{file} holds no closed-ended single-clip questions")
    check_audio(items, file.parent)
    return items


def read_parquet(file: Path) -> list[dict]:
    """The rows of a parquet file as dicts (pyarrow, imported here: it is not a dependency of headrouter)."""
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise ImportError(f"reading {file} needs pyarrow: pip install datasets (or pip install pyarrow)") from error
    try:
        return pq.read_table(file).to_pylist()
    except Exception as error:  # pyarrow raises its own error types for a file that is not parquet
        raise ValueError(f"{file}: not a readable parquet file ({type(error).__name__}: {error})") from error


def _left_out(row: dict) -> str | None:
    """Why a row is not evaluated, or None."""
    if row.get("category") in NOT_CLOSED:
        return f"{row['category']} questions (not scored by string matching)"
    if not isinstance(row.get("choices"), list) or len(row["choices"]) < 2:
        return "questions without choices"
    paths = row.get("audio_path")
    if isinstance(paths, list) and len(paths) != 1:
        return "questions over more than one clip"
    return None


def _item(row: dict, index: int, file: Path) -> Item:
    where = f"{file}: row {index}" + (f" ({row['id']})" if row.get("id") is not None else "")
    for key in ("id", "audio_path", "question", "answer", "category"):
        if row.get(key) is None:
            raise ValueError(f"{where}: missing {key!r}")
    audio = row["audio_path"][0] if isinstance(row["audio_path"], list) else row["audio_path"]
    category = str(row["category"])
    used = ("id", "audio_path", "question", "choices", "answer", "category")
    return Item(
        id=str(row["id"]),
        audio=str(file.parent / audio),
        question=str(row["question"]),
        answer=str(row["answer"]),
        task=category,
        task_type=TASK_TYPES.get(category, "other"),
        metric=RULE.name,
        choices=[str(c) for c in row["choices"]],
        domain=category if category in TASK_TYPES else None,
        extra=extra_fields(row, used),
    )
