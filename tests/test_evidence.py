"""Evidence recall: which events are the evidence, which tokens they cover, and the share a method kept (by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from headrouter.evaluation.evidence import events_covered, evidence_recall, evidence_spans, evidence_tokens
from headrouter.evaluation.tasks.items import Item
from headrouter.visual.kept import KeptTokens, MethodKept


def item(task: str, events: list[dict], question: str = "Which?", task_type: str = "acoustic") -> Item:
    return Item(f"{task}-0", "clip.wav", question, "x", task, task_type, "exact", extra={"events": events})


def event(label: str, start: float, end: float, **more) -> dict:
    return {"label": label, "start": start, "end": end, **more}


def test_every_event_is_evidence_unless_the_question_names_one():
    counted = [event("bell", 3.0, 4.0), event("bell", 20.0, 21.5)]
    assert evidence_spans(item("event_count", counted)) == [(3.0, 4.0), (20.0, 21.5)]
    melody = [event("C", 1.0, 4.0), event("E", 4.5, 8.0, moment=6), event("G", 8.5, 12.0)]
    assert evidence_spans(item("note_at_time", melody)) == [(4.5, 8.0)]
    words = [event("river", 21.7, 22.4, speaker="woman"), event("one", 41.6, 41.9, speaker="man")]
    question = "A man and a woman each say a few words in this recording. Who says the word 'one'?"
    assert evidence_spans(item("word_speaker", words, question, "semantic")) == [(41.6, 41.9)]


@pytest.mark.parametrize(
    ("task", "events", "question", "message"),
    [
        ("pitch_class", [event("A", 0.0, 1.0)], "Which?", "evidence is known for the long tasks"),
        ("hidden_event", [], "Which?", r"extra\['events'\] is missing or empty"),
        ("word_speaker", [event("river", 1.0, 2.0)], "Who says the word 'one'?", "no event matches"),
        ("note_at_time", [event("C", 1.0, 4.0)], "Which note is playing at 0:02?", "no event matches"),
    ],
    ids=["short-task", "no-events", "word-not-said", "no-moment"],
)
def test_items_without_known_evidence_are_refused(task, events, question, message):
    with pytest.raises(ValueError, match=message):
        evidence_spans(item(task, events, question))


def test_tokens_overlapping_a_span_at_25_per_second():
    # token i covers [i / 25, (i + 1) / 25): 0.5-1.0 s is tokens 12 (0.48-0.52) to 24 (0.96-1.00)
    assert evidence_tokens([(0.5, 1.0)], 100, 25.0) == set(range(12, 25))
    assert evidence_tokens([(1.0, 1.04)], 100, 25.0) == {25}  # exactly one token's interval
    assert evidence_tokens([(3.9, 9.0)], 100, 25.0) == set(range(97, 100))  # cut at the clip's end
    assert evidence_tokens([(0.0, 0.08), (0.04, 0.12)], 100, 25.0) == {0, 1, 2}  # overlapping spans count once
    assert evidence_tokens([(0.2, 0.28)], 100, 25.0) == {5, 6}  # 0.28 x 25 is 7.000000000000001: token 7 starts there


def three_methods() -> KeptTokens:
    """A 4-s clip of 100 tokens and what three methods kept of it."""
    return KeptTokens(
        wav=np.zeros(16_000 * 4, dtype=np.float32),
        sampling_rate=16_000,
        prompt="?",
        keep_ratio=0.1,
        prune_layer=2,
        audio_tokens=100,
        tokens_per_second=25.0,
        methods=[
            MethodKept("all", list(range(100)), [], {}),
            MethodKept("some", [10, 12, 13, 30, 31], [], {}),  # 12, 13 of the evidence 12..24; 30, 31 of 30..31
            MethodKept("none", [0, 1, 2], [], {}),
        ],
    )


def test_recall_is_the_share_of_evidence_tokens_each_method_kept():
    kept = three_methods()
    assert evidence_recall(kept, [(0.5, 1.0), (1.2, 1.28)]) == [1.0, 4 / 15, 0.0]  # 13 + 2 evidence tokens
    with pytest.raises(ValueError, match="cover no audio token"):
        evidence_recall(kept, [(5.0, 6.0)])


def test_an_event_is_covered_when_a_method_keeps_the_least_share_of_its_tokens():
    kept = three_methods()
    spans = [(0.5, 1.0), (1.2, 1.28)]  # tokens 12..24 (13) and 30..31 (2)
    assert events_covered(kept, spans) == [1.0, 1.0, 0.0]  # "some": 2 of 13 (>= 0.1) and 2 of 2
    assert events_covered(kept, spans, least=0.2) == [1.0, 0.5, 0.0]  # 2 of 13 is under 0.2
    assert events_covered(kept, spans, least=2 / 13) == [1.0, 1.0, 0.0]  # exactly the least share counts
    assert events_covered(kept, [(0.5, 1.0)], least=1.0) == [1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="covers no audio token"):
        events_covered(kept, [(0.5, 1.0), (5.0, 6.0)])
    for bad in (0, 1.5, -0.1, True, "0.1"):
        with pytest.raises(ValueError, match="least must be a share"):
            events_covered(kept, spans, least=bad)
