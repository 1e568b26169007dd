"""AudioMarathon's ten tasks (:data:`TASKS`) and how each task's released files become items (:data:`LOADERS`, one
reader per task, with its prompt, answer and choices as the benchmark's Qwen2.5-Omni script has them); the layouts
and sources are in :mod:`.audiomarathon`, which finds the tasks and reads them with these."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from headrouter.evaluation.benchmarks.audiomarathon_answers import RULES
from headrouter.evaluation.benchmarks.records import extra_fields
from headrouter.evaluation.tasks.items import Item

logger = logging.getLogger("headrouter")

DEFAULT_ANSWER_TOKENS = 5


@dataclass(frozen=True)
class Task:
    """One AudioMarathon task: leaderboard abbreviation, dataset, domain and task type (headrouter's semantic /
    acoustic split), the answer length its script generates."""

    name: str
    dataset: str
    domain: str
    task_type: str
    max_new_tokens: int = DEFAULT_ANSWER_TOKENS


TASKS = {
    t.name: t
    for t in (
        Task("SER", "SLUE", "speech", "semantic"),
        Task("SCR", "RACE", "speech", "semantic"),
        Task("ASR", "LibriSpeech", "speech", "semantic", 1100),
        Task("SED", "DESED", "sound", "acoustic"),
        Task("MC", "GTZAN", "music", "acoustic"),
        Task("ASC", "TAU", "sound", "acoustic"),
        Task("SD", "HAD", "speech", "acoustic"),
        Task("ER", "VESUS", "speech", "acoustic", 10),
        Task("SAR", "VoxCeleb", "speech", "acoustic"),
        Task("SGR", "VoxCeleb", "speech", "acoustic"),
    )
}
"""The tasks in the leaderboard's order (README: SER, SCR, ASR, SED, MC, ASC, SD, ER, SAR, SGR)."""


def _records(path: Path, key: str | None = None) -> list[dict]:
    """The records of a JSON metadata file: its list, or the list under ``key``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error
    if key is not None:
        if not isinstance(data, dict) or key not in data:
            raise ValueError(f"{path}: expected an object with a {key!r} list")
        data = data[key]
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of records, got {type(data).__name__}")
    return data


def _get(record: dict, key: str, path: Path, index: int) -> str:
    if not isinstance(record, dict):
        raise ValueError(f"{path}: record {index}: expected an object, got {type(record).__name__}")
    value = record.get(key)
    if value is None:
        raise ValueError(f"{path}: record {index}: missing field {key!r}")
    return value if isinstance(value, (str, list, dict)) else str(value)


def _item(
    task: str,
    index: int | str,
    audio: Path,
    question: str,
    answer: str,
    choices: list[str] | None,
    prompt: str,
    record: dict,
    used: tuple[str, ...],
) -> Item:
    """An item of ``task`` (id ``<task>-<index>``), the record's fields other than ``used`` in ``extra``."""
    spec = TASKS[task]
    extra = extra_fields(record, used)
    return Item(
        id=f"{task}-{index}",
        audio=str(audio),
        question=question,
        answer=answer,
        task=task,
        task_type=spec.task_type,
        metric=RULES[task].name,
        choices=choices,
        prompt=prompt,
        max_new_tokens=spec.max_new_tokens,
        domain=spec.domain,
        extra={"dataset": spec.dataset, **extra},
    )


def _lettered(choices: list[str], mark: str) -> str:
    """``A. x`` lines (``mark`` ``.``) or ``A) x`` lines (``mark`` ``)``), stripped as the scripts strip them."""
    return "".join(f"{chr(65 + i)}{mark} {c}\n" for i, c in enumerate(choices)).strip()


def _choices(record: dict, path: Path, index: int, letters: str = "abcd") -> list[str]:
    return [_get(record, f"choice_{x}", path, index) for x in letters]


def _gtzan(path: Path) -> list[Item]:
    task = "You are a helpful audio analysis assistant."
    used = ("path", "question", "choice_a", "choice_b", "choice_c", "choice_d", "answer_gt")
    items = []
    for i, r in enumerate(_records(path)):
        question, choices = _get(r, "question", path, i), _choices(r, path, i)
        prompt = (
            "Listen to this audio segment and identify the music genre based on what you hear.\n\n"
            f"Question: {question}\n\nOptions:\n{_lettered(choices, '.')}\n\n"
            "Respond with only the letter of the correct option (A, B, C, or D)."
        )
        audio = path.parent / "wav" / _get(r, "path", path, i)
        answer = _get(r, "answer_gt", path, i).strip()
        items.append(_item("MC", i, audio, question, answer, choices, f"{task}\n\n{prompt}", r, used))
    return items


def _lettered_question(question: str, choices: list[str]) -> str:
    """DESED's and SLUE's user text after the task instruction."""
    return (
        f"{question}\n\n{_lettered(choices, '.')}\n\n"
        "Please listen to the audio and select the correct answer. Reply with only the letter (A, B, C, or D)."
    )


def _desed(path: Path) -> list[Item]:
    task = (
        "You are a helpful assistant that analyzes audio to detect and classify sound events. Please listen carefully "
        "and select the most appropriate answer from the given choices."
    )
    used = ("path", "question", "choices", "answer_gt")
    items = []
    for i, r in enumerate(_records(path, "tasks")):
        question, options = _get(r, "question", path, i), _get(r, "choices", path, i)
        if not isinstance(options, dict):
            raise ValueError(f"{path}: record {i}: choices must be an object of A-D, got {type(options).__name__}")
        choices = [str(options.get(x, "")) for x in "ABCD"]
        audio = path.parent / _get(r, "path", path, i)
        answer = _get(r, "answer_gt", path, i).strip()
        prompt = f"{task}\n\n{_lettered_question(question, choices)}"
        items.append(_item("SED", i, audio, question, answer, choices, prompt, r, used))
    return items


def _slue(path: Path) -> list[Item]:
    task = (
        "You are a helpful assistant that analyzes speech audio for named entity recognition. Please listen carefully "
        "and extract the requested named entities from the speech."
    )
    used = ("path", "question", "choice_a", "choice_b", "choice_c", "choice_d", "answer_gt")
    items = []
    for i, r in enumerate(_records(path)):
        question, choices = _get(r, "question", path, i), _choices(r, path, i)
        audio = path.parent / _get(r, "path", path, i)
        answer = _get(r, "answer_gt", path, i).strip()
        prompt = f"{task}\n\n{_lettered_question(question, choices)}"
        items.append(_item("SER", i, audio, question, answer, choices, prompt, r, used))
    return items


def _race(path: Path) -> list[Item]:
    task = (
        "You are a helpful assistant that analyzes reading comprehension passages with audio narration. Please listen "
        "to the passage and answer the multiple-choice question based on what you heard."
    )
    used = ("audio_path", "question", "options", "answer")
    items = []
    for i, r in enumerate(_records(path)):
        question, choices = _get(r, "question", path, i), _get(r, "options", path, i)
        if not isinstance(choices, list):
            raise ValueError(f"{path}: record {i}: options must be a list, got {type(choices).__name__}")
        prompt = (
            "Listen to this audio of a passage being read aloud, then answer the multiple-choice question based "
            f"solely on the information from the audio.\n\nQuestion: {question}\n\nOptions:\n"
            f"{_lettered([str(c) for c in choices], '.')}\n\n"
            "Respond with only the letter of the correct option (A, B, C, or D)."
        )
        audio = path.parent / _get(r, "audio_path", path, i)
        answer = _get(r, "answer", path, i).strip()
        items.append(
            _item("SCR", i, audio, question, answer, [str(c) for c in choices], f"{task}\n\n{prompt}", r, used)
        )
    return items


def _tau(path: Path) -> list[Item]:
    task = (
        "You are a helpful assistant that analyzes urban soundscape audio to identify acoustic scenes. Please listen "
        "to the audio carefully and classify the scene type."
    )
    used = ("path", "question", "choice_a", "choice_b", "choice_c", "choice_d", "answer_gt")
    items = []
    for i, r in enumerate(_records(path)):
        question, choices = _get(r, "question", path, i), _choices(r, path, i)
        prompt = (
            "Listen to this audio and identify the acoustic scene. Choose the most appropriate option.\n"
            + "".join(f"{chr(65 + j)}: {c}\n" for j, c in enumerate(choices))
            + "Respond with only the letter of your answer (A, B, C, or D)."
        )
        audio = path.parent / _get(r, "path", path, i)
        answer = _get(r, "answer_gt", path, i).upper()
        items.append(_item("ASC", i, audio, question, answer, choices, f"{task}\n\n{prompt}", r, used))
    return items


def _vesus(path: Path) -> list[Item]:
    task = (
        "You are a helpful assistant that analyzes speech audio to recognize emotions. Please listen to the voice "
        "carefully and identify the emotional state of the speaker."
    )
    used = ("path", "question", "choice_a", "choice_b", "choice_c", "choice_d", "answer_gt")
    items, left_out = [], 0
    for i, r in enumerate(_records(path)):
        question = _get(r, "question", path, i)
        if str(r.get("person_id", "")).strip() in ("2", "10") and str(r.get("emotion_label", "")).lower() == "happy":
            left_out += 1
            continue
        choices = [str(r.get(f"choice_{x}", "")) for x in "abcd"]
        prompt = f"{question}\n\n{_lettered(choices, ')')}\n\nPlease select the correct answer (A, B, C, or D)."
        audio = path.parent / _get(r, "path", path, i)
        answer = _get(r, "answer_gt", path, i).upper()
        items.append(_item("ER", i, audio, question, answer, choices, f"{task}\n\n{prompt}", r, used))
    if left_out:
        logger.info(
            "audiomarathon: ER leaves out %d 'happy' clips of persons 2 and 10, as VESUS_qwen2.5.py does", left_out
        )
    return items


def _vox_age(path: Path) -> list[Item]:
    task = (
        "You are a helpful assistant that analyzes speech audio to estimate speaker age. Please listen to the voice "
        "carefully and classify the speaker's age group."
    )
    used = ("path", "question", "choice_a", "choice_b", "choice_c", "choice_d", "choice_e", "answer_gt")
    items = []
    for i, r in enumerate(_records(path)):
        question, choices = _get(r, "question", path, i), _choices(r, path, i, "abcde")
        prompt = f"{question}\n\n{_lettered(choices, ')')}\n\nPlease select the correct answer (A, B, C, D, or E)."
        audio = path.parent / "wav" / _get(r, "path", path, i)
        answer = _get(r, "answer_gt", path, i).strip()
        items.append(_item("SAR", i, audio, question, answer, choices, f"{task}\n\n{prompt}", r, used))
    return items


def _vox_gender(path: Path) -> list[Item]:
    task = (
        "You are a helpful assistant that analyzes speech audio to classify speaker gender. Please listen to the voice "
        "carefully and determine the speaker's gender."
    )
    instruction = (
        "Listen to this audio and identify the speaker's gender. Is this a male or female voice? If it is a male, "
        "answer 'a'. If it is a female, answer 'b'. Answer with only 'a' or 'b'."
    )
    used = ("path", "question", "choice_a", "choice_b", "answer_gt")
    items = []
    for i, r in enumerate(_records(path)):
        choices = [str(r.get("choice_a", "male")), str(r.get("choice_b", "female"))]
        audio = path.parent / "wav" / _get(r, "path", path, i)
        answer = _get(r, "answer_gt", path, i).lower().strip()
        question = str(r.get("question", instruction))
        items.append(_item("SGR", i, audio, question, answer, choices, f"{task}\n\n{instruction}", r, used))
    return items


def _had(folder: Path) -> list[Item]:
    task = "You are a helpful assistant that analyzes audio to determine authenticity."
    question = (
        "Listen to this audio clip carefully. Is this audio completely authentic (real) or does it contain any "
        "artificially synthesized segments (fake)? If it is completely real, answer 'a'. If it contains any fake "
        "segments, answer 'b'. Answer with only 'a' or 'b'."
    )
    items = []
    for label in ("real", "fake"):
        for wav in sorted((folder / label).glob("*.wav")):
            prompt = f"{task}\n\n{question}"
            items.append(_item("SD", f"{label}/{wav.stem}", wav, question, label, ["real", "fake"], prompt, {}, ()))
    return items


def _librispeech(folder: Path) -> list[Item]:
    task = (
        "You are a helpful assistant that transcribes speech audio. Please listen carefully and provide the exact "
        "transcription of what is spoken in the audio."
    )
    question = (
        "Transcribe this audio accurately. Remove hesitation words like 'um', 'uh'. Your response should be formatted "
        "as follows: Spoken Content: <transcribed text here>"
    )
    items, untranscribed = [], 0
    for flac in sorted(folder.glob("*/*/*.flac")):
        speaker, chapter = flac.parent.parent.name, flac.parent.name
        transcript = _transcript(flac, flac.parent / f"{speaker}-{chapter}.trans.txt")
        if not transcript:
            untranscribed += 1
            continue
        record = {"speaker_id": speaker, "chapter_id": chapter}
        items.append(_item("ASR", flac.stem, flac, question, transcript, None, f"{task}\n\n{question}", record, ()))
    if untranscribed:
        logger.warning("audiomarathon: ASR leaves out %d clips under %s without a transcript", untranscribed, folder)
    return items


def _transcript(flac: Path, chapter_file: Path) -> str | None:
    """The clip's ``<id>.txt``, else its line of the chapter's ``.trans.txt`` (LibriSpeech_qwen2.5.py's order)."""
    own = flac.with_suffix(".txt")
    if own.is_file():
        return own.read_text(encoding="utf-8").strip()
    if chapter_file.is_file():
        for line in chapter_file.read_text(encoding="utf-8").splitlines():
            if line.startswith(flac.stem):
                parts = line.split(" ", 1)
                return parts[1].strip() if len(parts) > 1 else None
    return None


LOADERS: dict[str, Callable[[Path], list[Item]]] = {
    "SER": _slue,
    "SCR": _race,
    "ASR": _librispeech,
    "SED": _desed,
    "MC": _gtzan,
    "ASC": _tau,
    "SD": _had,
    "ER": _vesus,
    "SAR": _vox_age,
    "SGR": _vox_gender,
}
