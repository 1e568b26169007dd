"""AudioMarathon's answer reading and metrics, task by task, as its Qwen2.5-Omni evaluation scripts do them.

Source: github.com/DabDans/AudioMarathon (commit c8f49f3), ``src/Qwen_2.5_Omni/Others/<script>`` (named per rule
below): the answer-extraction function each script applies to the model's text, and the sklearn metric it reports.
The leaderboard in the repository's README averages each task's F1 (0-100; ASR: 100 - WER). The readers are
translated line for line (case handling, the order of checks and their quirks included, e.g. DESED's last pattern
matching any A-D letter in the upper-cased text); branches that can never be reached after the ones before them are
left out. The scripts strip an ``assistant\\n`` prefix that only appears when the prompt is decoded with the answer;
headrouter decodes the new tokens only, so the readers that strip it see the same text either way.
"""

from __future__ import annotations

import re

from headrouter.evaluation.benchmarks.scoring import Rule, TaskMetric, register_rule
from headrouter.evaluation.tasks.items import Item, edit_distance

SCRIPTS = "github.com/DabDans/AudioMarathon src/Qwen_2.5_Omni/Others/"
LETTERS = ("A", "B", "C", "D")


def _after_assistant(text: str) -> str:
    if "assistant\n" in text:
        text = text[text.rfind("assistant\n") + len("assistant\n") :].strip()
    return text


def read_gtzan(item: Item, text: str) -> str:
    """GTZAN_qwen2.5.py ``extract_gtzan_answer``: a choice letter or ``""``."""
    if not text:
        return ""
    text = _after_assistant(text).strip().upper()
    if text in LETTERS:
        return text
    for letter in LETTERS:
        if text.startswith((f"{letter}.", f"{letter})")) or text.endswith(f" {letter}"):
            return letter
    lower = text.lower()
    for letter in LETTERS:
        small = letter.lower()
        if f"option {small}" in lower or f"choice {small}" in lower or f"{small})" in lower:
            return letter
    match = re.search(r"\b([ABCD])\b", text) or re.search(r"[(\[]?([ABCD])[)\].]?", text)
    return match.group(1) if match else ""


def read_desed(item: Item, text: str) -> str:
    """DESED_qwen2.5.py ``extract_answer_choice``: a choice letter or ``""`` (its last pattern takes the first A-D
    letter anywhere in the upper-cased text)."""
    if not text:
        return ""
    text = _after_assistant(text).strip().upper()
    if text in LETTERS:
        return text
    match = re.search(r"\b([ABCD])\b", text) or re.search(r"[(\[]?([ABCD])[)\].]?", text)
    return match.group(1) if match else ""


def read_slue(item: Item, text: str) -> str:
    """SLUE_qwen2.5.py ``extract_answer_choice``: a choice letter or ``""`` (its ``option X`` pattern comes after one
    that matches any A-D letter, so it never decides and is left out)."""
    if not text:
        return ""
    text = text.strip().upper()
    if text in LETTERS:
        return text
    for letter in LETTERS:
        if text.startswith(letter) and len(text) <= 3:
            return letter
    match = re.search(r"\b([ABCD])\b", text) or re.search(r"[(\[]?([ABCD])[)\].]?", text)
    return match.group(1) if match else ""


def read_race(item: Item, text: str) -> str:
    """race_qwen2.5.py ``clean_text_response``: the first A-D character of the upper-cased text, else its first word
    (which is then no valid label)."""
    if not text:
        return ""
    text = text.strip().upper()
    for char in text:
        if char in LETTERS:
            return char
    words = text.split()
    return words[0] if words else ""


def read_had(item: Item, text: str) -> str:
    """HAD_qwen2.5.py ``extract_authenticity_answer``: ``real``, ``fake`` or ``""`` (choice a is real, b fake)."""
    lower = text.lower().strip()
    a, b = (c.lower().strip() for c in item.choices)
    if lower == "a" or lower.startswith(("a.", "a)")) or lower.endswith(" a"):
        return a
    if lower == "b" or lower.startswith(("b.", "b)")) or lower.endswith(" b"):
        return b
    if "option a" in lower or "choice a" in lower or "a)" in lower or " a " in lower:
        return a
    if "option b" in lower or "choice b" in lower or "b)" in lower or " b " in lower:
        return b
    if a in lower and b not in lower:
        return a
    if b in lower and a not in lower:
        return b
    if (a, b) == ("real", "fake"):
        real = re.search(r"\breal\b|\bauthentic\b|\bgenuine\b|\bcompletely authentic\b", lower) is not None
        fake = re.search(r"\bfake\b|\bartificial\b|\bsynthetic\b|\bsynthesized\b|\bcontains.*fake\b", lower) is not None
        if real != fake:
            return "real" if real else "fake"
    return ""


def read_gender(item: Item, text: str) -> str:
    """Vox_qwen2.5.py ``extract_gender_answer``: ``male``, ``female`` or ``""`` (choice a, b as the item lists)."""
    lower = text.lower().strip()
    a, b = (c.lower().strip() for c in item.choices)
    if lower == "a" or lower.startswith(("a.", "a)")):
        return a
    if lower == "b" or lower.startswith(("b.", "b)")):
        return b
    if "option a" in lower or "choice a" in lower or "a)" in lower:
        return a
    if "option b" in lower or "choice b" in lower or "b)" in lower:
        return b
    if a in lower and b not in lower:
        return a
    if b in lower and a not in lower:
        return b
    if (a, b) == ("male", "female"):
        male = re.search(r"\bmale\b", lower) is not None
        female = re.search(r"\bfemale\b", lower) is not None
        if male != female:
            return "male" if male else "female"
    return ""


def read_scene(item: Item, text: str) -> str:
    """TAU_qwen2.5.py ``extract_acoustic_scene_answer``: a choice letter or ``""``; a choice named in the text, else
    the one sharing most (and more than one) of its words' substrings with the text."""
    lower = text.lower().strip()
    options = [letter.lower() for letter in LETTERS]
    if lower in options:
        return lower.upper()
    for option in options:
        if lower.startswith((f"{option}.", f"{option})", f"{option}:")):
            return option.upper()
    for option in options:
        if f"option {option}" in lower or f"choice {option}" in lower or f"{option})" in lower:
            return option.upper()
    best, most = None, 0
    for i, choice in enumerate(item.choices or []):
        choice = choice.lower()
        if choice in lower:
            return chr(65 + i)
        overlap = sum(1 for word in choice.split(" - ")[0].split() if word in lower)
        if overlap > most:
            best, most = chr(65 + i), overlap
    return best if best and most > 1 else ""


EMOTION_KEYWORDS = {
    "angry": ["anger", "frustrated", "mad", "furious"],
    "happy": ["joy", "cheerful", "pleased", "delighted"],
    "sad": ["sadness", "melancholy", "depressed", "sorrow"],
    "fearful": ["fear", "anxiety", "scared", "afraid"],
    "monotone": ["flat", "emotionless", "neutral", "bland"],
}
"""VESUS_qwen2.5.py's keywords, per emotion, that tie a free-text answer to a choice."""


def read_emotion(item: Item, text: str) -> str:
    """VESUS_qwen2.5.py ``extract_emotion_answer``: a choice letter or ``""``."""
    lower = text.lower().strip()
    for letter in LETTERS:
        small = letter.lower()
        if lower == small or lower.startswith((f"{small}.", f"{small})")):
            return letter
    for letter in LETTERS:
        small = letter.lower()
        if any(p in lower for p in (f"option {small}", f"choice {small}", f"{small})", f"({small})")):
            return letter
    for i, choice in enumerate(item.choices or []):
        choice = choice.lower()
        for keywords in EMOTION_KEYWORDS.values():
            if any(k in lower for k in keywords) and any(k in choice for k in keywords):
                return chr(65 + i)
    return ""


def read_age(item: Item, text: str) -> str:
    """Vox_age_qwen2.5.py ``extract_age_answer``: the text of a choice (A-E) or ``""``."""
    lower = text.lower().strip()
    letters = "abcde"
    choices = dict(zip(letters, item.choices, strict=True))
    for letter in letters:
        if lower == letter or lower.startswith((f"{letter}.", f"{letter})")) or lower.endswith(f" {letter}"):
            return choices[letter]
    for letter in letters:
        others = [x for x in letters if x != letter]
        if re.search(rf"\b{letter}\b", lower) and not any(re.search(rf"\b{x}\b", lower) for x in others):
            return choices[letter]
    for letter in letters:
        if any(f"{word} {letter}" in lower for word in ("option", "choice", "answer")):
            return choices[letter]
    named = [c for c in choices.values() if c.lower() in lower]
    return named[0] if len(named) == 1 else ""


def read_transcript(item: Item, text: str) -> str:
    """LibriSpeech_qwen2.5.py ``clean_response``: the transcript after a ``Spoken Content:``-like marker, the
    prompt's placeholder removed."""
    text = _after_assistant(text)
    if not text or text.strip() == "":
        return ""
    for marker in ("spoken content:", "content:", "transcription:", "transcript:"):
        if marker in text.lower():
            parts = re.split(re.escape(marker), text, flags=re.IGNORECASE)
            if len(parts) > 1:
                text = parts[1].strip()
                break
    text = re.sub(r"<transcribed text here>", "", text)
    text = re.sub(r"<sep>.*?($|<|$)", "", text)
    text = re.sub(r"(?i)^(spoken\s+(?:text|content)|content|transcript|transcription):\s*", "", text.strip())
    return text.strip()


def standardize(text: str) -> str:
    """LibriSpeech_qwen2.5.py ``standardize_text``: lower case, sentence punctuation to spaces, hyphens and
    apostrophes removed, spaces collapsed."""
    text = text.lower()
    text = re.sub(r"[.!?,;:\"()\[\]{}]", " ", text)
    text = re.sub(r"[\-\']", "", text)
    return re.sub(r"\s+", " ", text).strip()


def transcript_error_rate(reference: str, hypothesis: str) -> float:
    """LibriSpeech_qwen2.5.py ``calculate_wer`` (as a fraction, the script's value / 100): jiwer's word error rate
    of the standardised texts, 1.0 when either is empty."""
    ref, hyp = standardize(reference).split(), standardize(hypothesis).split()
    if not ref or not hyp:
        return 1.0
    return edit_distance(ref, hyp) / len(ref)


def _rule(name: str, script: str, read, metric: TaskMetric, error_rate=None) -> Rule:
    return register_rule(Rule(f"audiomarathon-{name}", SCRIPTS + script, read, metric, error_rate))


LETTER_F1 = TaskMetric("macro_f1", valid=LETTERS, labels="observed")
RULES = {
    "MC": _rule("gtzan", "GTZAN_qwen2.5.py", read_gtzan, TaskMetric("macro_f1", valid=LETTERS, labels="valid")),
    "SED": _rule("desed", "DESED_qwen2.5.py", read_desed, LETTER_F1),
    "SER": _rule("slue", "SLUE_qwen2.5.py", read_slue, LETTER_F1),
    "SCR": _rule("race", "race_qwen2.5.py", read_race, TaskMetric("macro_f1", valid=LETTERS, labels="valid")),
    "SD": _rule("had", "HAD_qwen2.5.py", read_had, TaskMetric("macro_f1", valid=("real", "fake"))),
    "SGR": _rule("vox-gender", "Vox_qwen2.5.py", read_gender, TaskMetric("weighted_f1", valid=("male", "female"))),
    "ASC": _rule("tau", "TAU_qwen2.5.py", read_scene, TaskMetric("macro_f1")),
    "ER": _rule("vesus", "VESUS_qwen2.5.py", read_emotion, TaskMetric("macro_f1")),
    "SAR": _rule("vox-age", "Vox_age_qwen2.5.py", read_age, TaskMetric("macro_f1", labels="valid")),
    "ASR": _rule(
        "librispeech", "LibriSpeech_qwen2.5.py", read_transcript, TaskMetric("word_accuracy"), transcript_error_rate
    ),
}
"""The rule of each task, by its leaderboard abbreviation. F1 label sets as the scripts pass them: GTZAN and RACE
give ``labels=[A, B, C, D]``; Vox_age the sorted age groups of the answers; DESED, SLUE, HAD, TAU, VESUS and Vox
give none (scikit-learn averages the labels that occur), after keeping the items whose answer and reading are both
valid (A-D; real/fake; male/female; or, for TAU and VESUS, the answers seen in the task)."""
