"""MMAU test-mini: the released JSON read into items, scored with MMAU's own answer matching.

Format (github.com/Sakshi113/MMAU ``mmau-test-mini.json``): a JSON list of records ``{"id", "audio_id": "./test-mini-
audios/<id>.wav" (relative to the JSON's folder), "question", "choices": [...], "answer": one of the choices, "dataset",
"task": "sound" | "music" | "speech", "split", "category", "sub-category", "difficulty"}``. The test split (9,000
questions) is released without answers and cannot be scored here: a record without ``answer`` is an error.

Scoring: MMAU's ``evaluation.py`` (github.com/Sakshi113/MMAU, ``string_match``): a prediction is right when it holds
every word token of the answer and no token that only a wrong choice has (tokens: ``\\b\\w+\\b`` of the lower-cased
text). The ``fetch`` of that repository failed here; the function is taken from copies that cite it (the stored copy
of the repository holds only its README and JSON), and the tests pin it on hand-written answers. MMAU reports accuracy
per ``task`` (sound, music, speech) and over all items; here ``task`` is MMAU's task, so the per-task rows are MMAU's,
while headrouter's overall figure is the mean of the task figures (MMAU's total is the mean over items).

No prompt is fixed by MMAU: the question and choices are laid out by :func:`~headrouter.evaluation.tasks.items.
format_prompt`. ``task_type`` (headrouter's semantic/acoustic split) is ``semantic`` for speech and ``acoustic`` for
sound and music, a convention of this loader, not MMAU's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from headrouter.evaluation.benchmarks.records import check_audio, extra_fields
from headrouter.evaluation.benchmarks.scoring import Rule, register_rule
from headrouter.evaluation.tasks.items import Item

FILE = "mmau-test-mini.json"
TASK_TYPES = {"speech": "semantic", "sound": "acoustic", "music": "acoustic"}
"""Domain -> headrouter task type (this loader's convention); other categories get ``other``."""


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"\b\w+\b", str(text).lower()))


def string_match(answer: str, prediction: str, choices: list[str]) -> bool:
    """MMAU's ``string_match``: every token of ``answer`` in ``prediction``, and none of the tokens that only the other
    choices have; an empty prediction never matches."""
    said, right = _tokens(prediction), _tokens(answer)
    if not said:
        return False
    wrong: set[str] = set()
    for choice in choices:
        tokens = _tokens(choice)
        if tokens != right:
            wrong |= tokens - right
    return right <= said and said.isdisjoint(wrong)


def read_choice(item: Item, prediction: str) -> str:
    """The choice ``string_match`` finds in ``prediction`` (the answer if it matches, else the one other choice that
    does), or ``""``; the item is right exactly when MMAU's ``string_match(answer, prediction, choices)`` is."""
    choices = item.choices or []
    if string_match(item.answer, prediction, choices):
        return item.answer
    return next((c for c in choices if c != item.answer and string_match(c, prediction, choices)), "")


RULE = register_rule(Rule("mmau", "github.com/Sakshi113/MMAU evaluation.py string_match", read_choice))


def load(path: str | Path) -> list[Item]:
    """The items of ``mmau-test-mini.json`` (the file, or a folder holding it). ``ValueError`` for a malformed record
    (naming the file and record) and for missing audio files (listing them)."""
    path = Path(path)
    file = path / FILE if path.is_dir() else path
    if not file.is_file():
        raise ValueError(f"MMAU data {path}: no {FILE} there" if path.is_dir() else f"MMAU file {path} not found")
    try:
        records = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{file}: not valid JSON ({error})") from error
    if not isinstance(records, list):
        raise ValueError(f"{file}: expected a list of records, got {type(records).__name__}")
    items = [_item(record, i, file) for i, record in enumerate(records)]
    check_audio(items, file.parent)
    return items


def _item(record: dict, index: int, file: Path) -> Item:
    where = f"{file}: record {index}"
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected an object, got {type(record).__name__}")
    where += f" ({record['id']})" if "id" in record else ""
    for key in ("id", "audio_id", "question", "choices", "task"):
        if record.get(key) is None:
            raise ValueError(f"{where}: missing field {key!r}")
    if record.get("answer") is None:
        raise ValueError(f"{where}: no answer (MMAU's test split is released without answers; use test-mini)")
    choices = record["choices"]
    if not isinstance(choices, list) or len(choices) < 2:
        raise ValueError(f"{where}: choices must be a list of at least two, got {choices!r}")
    used = ("id", "audio_id", "question", "choices", "answer", "task")
    task = str(record["task"])
    return Item(
        id=str(record["id"]),
        audio=str(file.parent / record["audio_id"]),
        question=str(record["question"]),
        answer=str(record["answer"]),
        task=task,
        task_type=TASK_TYPES.get(task, "other"),
        metric=RULE.name,
        choices=[str(c) for c in choices],
        domain=task if task in TASK_TYPES else None,
        extra=extra_fields(record, used),
    )
