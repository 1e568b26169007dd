"""Evidence recall: the share of the audio tokens that hold an item's answer that a pruning method keeps.

The long task family records where its content lies (``extra["events"]``, :mod:`.tasks.long`), so a method's kept
tokens can be checked against the seconds that matter, apart from whether the model then answers right. On a small
model whose answers are near chance for some tasks, this tells methods apart where the scores cannot.

Which events are the evidence (:func:`evidence_spans`): the one the question asks about where it names one
(``note_at_time``: the note at the stated moment; ``word_speaker``: the quoted word), else every event of the item
(the hidden event, all events counted, both events ordered, the keyword, the digits). Audio token ``i`` of a clip
covers ``[i / rate, (i + 1) / rate)`` seconds; it is evidence when that interval overlaps an evidence span.

Recall is the share of the evidence tokens kept; :func:`events_covered` asks instead whether each event keeps some of
its tokens. On the long proving ground that is what decides an answer: with a random tenth of an event's tokens kept,
91% of the acoustic answers stay right, against 52% with none (``benchmarks/evidence_knockout.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from headrouter.evaluation.tasks.items import Item
from headrouter.evaluation.tasks.long import LONG_TASKS
from headrouter.visual.kept import KeptTokens

_SLACK = 1e-9
"""Token boundaries are compared with this much tolerance: float products of seconds and rates are inexact."""


def evidence_spans(item: Item) -> list[tuple[float, float]]:
    """``[(start, end), ...]`` in seconds: where ``item``'s answer lies (see the module doc); ``ValueError`` for an
    item of no long task, or one without its events."""
    if item.task not in LONG_TASKS:
        raise ValueError(f"item {item.id}: evidence is known for the long tasks {sorted(LONG_TASKS)}, not {item.task}")
    events = (item.extra or {}).get("events")
    if not events:
        raise ValueError(f"item {item.id}: extra['events'] is missing or empty; it says where the evidence lies")
    if item.task == "note_at_time":
        events = [e for e in events if "moment" in e]
    elif item.task == "word_speaker":
        asked = re.search(r"'([^']+)'", item.question)
        events = [e for e in events if asked is not None and e["label"] == asked.group(1)]
    if not events:
        raise ValueError(f"item {item.id}: no event matches what the question asks about")
    return [(float(e["start"]), float(e["end"])) for e in events]


def evidence_tokens(spans: Sequence[tuple[float, float]], audio_tokens: int, tokens_per_second: float) -> set[int]:
    """The audio token indices whose time interval overlaps one of ``spans``."""
    tokens: set[int] = set()
    for start, end in spans:  # _SLACK: 0.28 s x 25 is 7.000000000000001 in floats; token 7 starts at 0.28 s
        first = max(0, math.floor(start * tokens_per_second + _SLACK))
        last = min(audio_tokens - 1, math.ceil(end * tokens_per_second - _SLACK) - 1)
        tokens.update(range(first, last + 1))
    return tokens


def evidence_recall(kept: KeptTokens, spans: Sequence[tuple[float, float]]) -> list[float]:
    """The share of the evidence tokens each method of ``kept`` kept, in the order of ``kept.methods``;
    ``ValueError`` if the spans cover no token of the clip."""
    evidence = evidence_tokens(spans, kept.audio_tokens, kept.tokens_per_second)
    if not evidence:
        raise ValueError(f"the spans {list(spans)} cover no audio token of a {kept.seconds:.1f}-s clip")
    return [len(evidence.intersection(m.indices)) / len(evidence) for m in kept.methods]


COVERED_LEAST = 0.1
"""The share of an event's tokens a method must keep for :func:`events_covered` to count the event as covered."""


def events_covered(kept: KeptTokens, spans: Sequence[tuple[float, float]], least: float = COVERED_LEAST) -> list[float]:
    """The share of the evidence events (``spans``) of which each method of ``kept`` kept at least ``least`` of the
    tokens, in the order of ``kept.methods``; ``ValueError`` for ``least`` outside (0, 1] or a span that covers no
    token of the clip."""
    if isinstance(least, bool) or not isinstance(least, (int, float)) or not 0 < least <= 1:
        raise ValueError(f"least must be a share in (0, 1], got {least!r}")
    events = []
    for span in spans:
        tokens = evidence_tokens([span], kept.audio_tokens, kept.tokens_per_second)
        if not tokens:
            raise ValueError(f"the span {span} covers no audio token of a {kept.seconds:.1f}-s clip")
        events.append(tokens)
    return [
        sum(len(tokens.intersection(m.indices)) >= least * len(tokens) - _SLACK for tokens in events) / len(events)
        for m in kept.methods
    ]
