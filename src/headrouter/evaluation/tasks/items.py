"""Evaluation items: the JSON-lines format, the prompt the model sees, and the scoring rules.

The format follows AudioMarathon's items closely, so the same evaluation runs on real benchmark data:

    {"id": "pitch-000017", "audio": "clips/pitch-000017.wav", "question": "Which note is played?",
     "choices": ["C", "D", "E", "F"], "answer": "E", "task": "pitch_class", "task_type": "acoustic",
     "metric": "choice"}

``audio`` is a path (relative paths are taken from the JSON-lines file's folder); ``choices`` is a list
for multiple choice or null for a short answer; ``metric`` is ``"choice"`` (the answer must match the
right choice), ``"exact"`` (normalised string equality) or ``"wer"`` (word error rate, lower is better).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

METRICS = ("choice", "exact", "wer")


@dataclass
class Item:
    """One question about one audio clip."""

    id: str
    audio: str
    question: str
    answer: str
    task: str
    task_type: str
    metric: str = "exact"
    choices: list[str] | None = None

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"item {self.id}: metric must be one of {METRICS}, got {self.metric!r}")
        if self.metric == "choice" and not self.choices:
            raise ValueError(f"item {self.id}: metric 'choice' needs choices")
        if self.choices and self.metric == "choice" and self.answer not in self.choices:
            raise ValueError(f"item {self.id}: answer {self.answer!r} is not one of its choices")

    def to_dict(self) -> dict:
        return asdict(self)


def read_items(path: str | Path) -> list[Item]:
    """Items of a JSON-lines file, audio paths made absolute; ``ValueError`` naming the line for a malformed one."""
    path = Path(path)
    items = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            item = Item(**data)
        except (json.JSONDecodeError, TypeError, ValueError) as error:
            raise ValueError(f"{path}:{number}: not a valid item ({error})") from error
        audio = Path(item.audio)
        item.audio = str(audio if audio.is_absolute() else path.parent / audio)
        items.append(item)
    return items


def write_items(items: list[Item], path: str | Path) -> None:
    """Write items as JSON lines (audio paths as given, typically relative to ``path``'s folder)."""
    Path(path).write_text("".join(json.dumps(item.to_dict()) + "\n" for item in items))


def format_prompt(item: Item) -> str:
    """The text that follows the audio in the user turn; models are trained and evaluated on exactly this."""
    if item.choices:
        return f"{item.question}\nChoices: {' | '.join(item.choices)}\nAnswer with one choice."
    return item.question


def normalize(text: str) -> str:
    """Lower case, punctuation removed, whitespace collapsed."""
    return " ".join(re.sub(r"[^\w\s#]", " ", text.lower()).split())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance between the word sequences over the reference length (normalised text)."""
    ref, hyp = normalize(reference).split(), normalize(hypothesis).split()
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / max(len(ref), 1)


def score(item: Item, prediction: str) -> float:
    """1.0/0.0 for ``choice`` and ``exact``; the word error rate for ``wer``.

    For ``choice`` the prediction counts when, normalised, it equals the right choice or names it and no
    other choice.
    """
    if item.metric == "wer":
        return word_error_rate(item.answer, prediction)
    said = normalize(prediction)
    if item.metric == "exact":
        return float(said == normalize(item.answer))
    named = [c for c in item.choices if re.search(rf"(^|\s){re.escape(normalize(c))}($|\s)", said)]
    return float(said == normalize(item.answer) or named == [item.answer])
