"""Evaluation items: the JSON-lines format, the prompt the model sees, and the scoring rules.

The format follows AudioMarathon's items closely, so the same evaluation runs on real benchmark data:

    {"id": "pitch-000017", "audio": "clips/pitch-000017.wav", "question": "Which note is played?",
     "choices": ["C", "D", "E", "F"], "answer": "E", "task": "pitch_class", "task_type": "acoustic",
     "metric": "choice"}

``audio`` is a path (relative paths are taken from the JSON-lines file's folder); ``choices`` is a list
for multiple choice or null for a short answer; ``metric`` is ``"choice"`` (the answer must match the
right choice), ``"exact"`` (normalised string equality), ``"wer"`` (word error rate, lower is better) or the name of
a benchmark's own scoring rule (:mod:`headrouter.evaluation.benchmarks.scoring`, e.g. ``"audiomarathon-gtzan"``).

Optional fields: ``prompt`` (the exact user text, for benchmarks that fix their own; else :func:`format_prompt` lays
out the question and choices), ``max_new_tokens`` (the item's own answer length, for benchmarks that fix one),
``domain`` (``speech``, ``sound`` or ``music``: the report's per-domain columns) and ``extra`` (any other fields of the
record, kept as they are and written back with the item's results). A field the format does not name is not an
error: it goes to ``extra``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

METRICS = ("choice", "exact", "wer")
"""headrouter's own scoring rules; benchmark rules are registered in :mod:`headrouter.evaluation.benchmarks.scoring`."""


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
    prompt: str | None = None
    max_new_tokens: int | None = None
    domain: str | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.metric not in METRICS and not _is_rule(self.metric):
            raise ValueError(
                f"item {self.id}: metric must be one of {METRICS} or a benchmark rule, got {self.metric!r}"
            )
        if self.metric == "choice" and not self.choices:
            raise ValueError(f"item {self.id}: metric 'choice' needs choices")
        if self.choices and self.metric == "choice" and self.answer not in self.choices:
            raise ValueError(f"item {self.id}: answer {self.answer!r} is not one of its choices")
        if self.max_new_tokens is not None and (
            isinstance(self.max_new_tokens, bool) or not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1
        ):
            raise ValueError(f"item {self.id}: max_new_tokens must be an int >= 1 or null, got {self.max_new_tokens!r}")
        if not isinstance(self.extra, dict):
            raise ValueError(f"item {self.id}: extra must be an object, got {type(self.extra).__name__}")

    @classmethod
    def from_dict(cls, data: dict) -> Item:
        """An item from a record: the fields the format names, and every other key in ``extra`` (merged with the
        record's own ``extra``)."""
        if not isinstance(data, dict):
            raise TypeError(f"an item is a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if not isinstance(values.get("extra", {}), dict):
            raise ValueError(f"item {data.get('id')}: extra must be an object, got {type(values['extra']).__name__}")
        values["extra"] = {**values.get("extra", {}), **{k: v for k, v in data.items() if k not in known}}
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


def _is_rule(name: str) -> bool:
    """Whether ``name`` is a registered benchmark scoring rule (imported here, not at the top: the benchmarks import
    this module)."""
    from headrouter.evaluation.benchmarks.scoring import has_rule

    return has_rule(name)


def read_items(path: str | Path) -> list[Item]:
    """Items of a JSON-lines file, audio paths made absolute; ``ValueError`` naming the line for a malformed one."""
    path = Path(path)
    items = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            item = Item.from_dict(data)
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
    """The text that follows the audio in the user turn; models are trained and evaluated on exactly this: the item's
    own ``prompt`` where it has one (a benchmark's fixed wording), else the question and its choices."""
    if item.prompt is not None:
        return item.prompt
    if item.choices:
        return f"{item.question}\nChoices: {' | '.join(item.choices)}\nAnswer with one choice."
    return item.question


def normalize(text: str) -> str:
    """Lower case, punctuation removed, whitespace collapsed."""
    return " ".join(re.sub(r"[^\w\s#]", " ", text.lower()).split())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance between the word sequences over the reference length (normalised text)."""
    ref = normalize(reference).split()
    return edit_distance(ref, normalize(hypothesis).split()) / max(len(ref), 1)


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Substitutions, deletions and insertions that turn ``reference`` into ``hypothesis`` (Levenshtein)."""
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        current = [i]
        for j, h in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def score(item: Item, prediction: str) -> float:
    """1.0/0.0 for ``choice`` and ``exact``; the word error rate for ``wer``; a benchmark rule's raw value (its
    :meth:`~headrouter.evaluation.benchmarks.scoring.Rule.judge`) for an item scored by one.

    For ``choice`` the prediction counts when, normalised, it equals the right choice or names it and no
    other choice.
    """
    return judge(item, prediction)[1]


def judge(item: Item, prediction: str) -> tuple[float, float, str | None]:
    """``(score, raw, reading)``: ``raw`` is what the rule measures (1/0, or the word error rate for transcription),
    ``score`` the higher-is-better value in [0, 1] that is averaged and compared (``max(0, 1 - WER)`` for ``wer``
    items; the rule's own for a benchmark rule), ``reading`` the answer a benchmark rule read out of the prediction
    (None for headrouter's own rules)."""
    if item.metric not in METRICS:
        from headrouter.evaluation.benchmarks.scoring import get_rule

        return get_rule(item.metric).judge(item, prediction)
    if item.metric == "wer":
        wer = word_error_rate(item.answer, prediction)
        return max(0.0, 1.0 - wer), wer, None
    said = normalize(prediction)
    if item.metric == "exact":
        value = float(said == normalize(item.answer))
        return value, value, None
    named = [c for c in item.choices if re.search(rf"(^|\s){re.escape(normalize(c))}($|\s)", said)]
    value = float(said == normalize(item.answer) or named == [item.answer])
    return value, value, None
