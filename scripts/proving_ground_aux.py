"""Training-only auxiliary losses of the proving-ground model, read off the audio tower's output tokens.

Without them the answer loss reaches the audio tower only through the decoder's attention; in a CPU hour the tower
then learned noise colour and nothing else (held-out semantic 11%). With them it learns word identity, timing and
what sounds where, and the decoder learns to read those tokens.

- short speech-content tasks: CTC over the spoken words;
- short choice tasks: attention-pooled classification; ``beep_count``: a per-token onset count;
- long tasks (``extra["events"]`` says where the content lies): a per-token tag (nothing, one of the event kinds,
  one of the notes, speech by a man / a woman / either) and, for the speech tasks, CTC over the words in time order.
"""

from __future__ import annotations

import torch
from torch import nn

from headrouter.evaluation.tasks import synth
from headrouter.evaluation.tasks.generator import DIGIT_WORDS, KEYWORDS, TASKS
from headrouter.evaluation.tasks.long import EVENT_KINDS, LONG_SPEECH_TASKS, LONG_TASKS

SPOKEN = DIGIT_WORDS + KEYWORDS  # CTC classes 1.. (0 is the blank)
CTC_TASKS = ("spoken_digit", "keyword_needle", "digit_string")
TAGS = ("none", *EVENT_KINDS, *synth.NOTE_NAMES, "speech", "man", "woman")
TOKENS_PER_SECOND = 25


def _words(label: str) -> list[int]:
    """CTC classes of one spoken event's label: a keyword or digit word, or a digit string ``"4 0 7 1"``."""
    if label in SPOKEN:
        return [1 + SPOKEN.index(label)]
    return [1 + int(d) for d in label.split()]


def aux_target(item) -> list[int] | int | float | dict:
    """The auxiliary heads' target: CTC class ids of the spoken words, a choice index, the beep count, or for a
    long task ``{"tags": [(start token, end token, tag)], "ctc": [word classes in time order]}``."""
    if item.task in LONG_TASKS:
        events = sorted(item.extra["events"], key=lambda e: e["start"])
        speech = item.task in LONG_SPEECH_TASKS
        tags = []
        for e in events:
            tag = e.get("speaker", "speech") if speech else e["label"]
            start, end = int(e["start"] * TOKENS_PER_SECOND), int(-(-e["end"] * TOKENS_PER_SECOND // 1))
            tags.append((start, end, TAGS.index(tag)))
        ctc = [c for e in events for c in _words(e["label"])] if speech else []
        return {"tags": tags, "ctc": ctc}
    if item.task == "digit_string":
        return [1 + int(d) for d in item.answer.split()]
    if item.task in CTC_TASKS:
        word = DIGIT_WORDS[int(item.answer)] if item.task == "spoken_digit" else item.answer
        return [1 + SPOKEN.index(word)]
    if item.task == "beep_count":
        return float(item.answer)
    return item.choices.index(item.answer)


class AuxHeads(nn.Module):
    """Training-only heads on the audio tower's output tokens (dropped when the model is saved)."""

    def __init__(self, hidden: int, weight: float) -> None:
        super().__init__()
        self.weight = weight
        self.ctc = nn.Linear(hidden, 1 + len(SPOKEN))
        self.onset = nn.Linear(hidden, 1)
        nn.init.constant_(self.onset.bias, -6.0)  # near-zero onsets at first: a 64 s clip's count starts near 4
        self.tag = nn.Linear(hidden, len(TAGS))
        choice_tasks = [t for t, spec in TASKS.items() if spec.choices and t not in CTC_TASKS and t != "beep_count"]
        self.query = nn.ModuleDict({t: nn.Linear(hidden, 1) for t in choice_tasks})
        self.classify = nn.ModuleDict({t: nn.Linear(hidden, len(TASKS[t].choices)) for t in choice_tasks})

    def _ctc(self, tokens: torch.Tensor, target: list[int]) -> torch.Tensor:
        log_probs = self.ctc(tokens).log_softmax(-1)[:, None]
        return nn.functional.ctc_loss(
            log_probs, torch.tensor([target]), [len(tokens)], [len(target)], zero_infinity=True
        )

    def _long(self, tokens: torch.Tensor, target: dict) -> torch.Tensor:
        tags = torch.zeros(len(tokens), dtype=torch.long)
        for start, end, tag in target["tags"]:
            tags[start:end] = tag
        loss = nn.functional.cross_entropy(self.tag(tokens), tags)
        if target["ctc"]:
            loss = loss + self._ctc(tokens, target["ctc"])
        return loss

    def forward(self, audio: torch.Tensor, batch: list[dict]) -> torch.Tensor:
        """Weighted mean auxiliary loss; ``audio`` is the tower output, the samples' tokens concatenated."""
        losses = []
        for d, tokens in zip(batch, audio.float().split([d["tokens"] for d in batch]), strict=True):
            task, target = d["task"], d["aux"]
            if task in LONG_TASKS:
                losses.append(self._long(tokens, target))
            elif task in CTC_TASKS:
                losses.append(self._ctc(tokens, target))
            elif task == "beep_count":
                counted = torch.sigmoid(self.onset(tokens)).sum()
                losses.append(nn.functional.smooth_l1_loss(counted, torch.tensor(target)))
            else:
                weights = torch.softmax(self.query[task](tokens).squeeze(-1), 0)
                logits = self.classify[task](weights @ tokens)
                losses.append(nn.functional.cross_entropy(logits[None], torch.tensor([target])))
        return self.weight * torch.stack(losses).mean()
