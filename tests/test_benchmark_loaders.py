"""Benchmark loaders on small fixture files written in each released format (AudioMarathon, MMAU test-mini, MMAU-Pro,
a Hugging Face datasets folder): the items, the benchmarks' answer reading and metrics on hand-written answers, and
the errors. No downloads, no model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from headrouter.evaluation.benchmarks import (
    BENCHMARKS,
    audiomarathon,
    audiomarathon_answers,
    hf,
    interleave,
    load_benchmark,
    mmau,
    mmau_pro,
)
from headrouter.evaluation.benchmarks.scoring import TaskMetric, f1_score, get_rule
from headrouter.evaluation.summary import UNPRUNED, Setting, summarize
from headrouter.evaluation.tasks.items import Item, judge, read_items, write_items

RATE = 16000


def wav(path: Path, seconds: float = 0.1, fmt: str | None = None) -> Path:
    """A tiny noise clip at ``path`` (folders made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.random.default_rng(0).uniform(-0.1, 0.1, int(RATE * seconds)), RATE, format=fmt)
    return path


def dump(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def four(prefix: str) -> dict:
    return {f"choice_{x}": f"{prefix} {x}" for x in "abcd"}


# ---------------------------------------------------------------------- AudioMarathon


def write_audiomarathon(root: Path) -> Path:
    """One folder per task, laid out as AudioMarathon's scripts read them: two records a task (HAD: one real, one
    fake; VESUS: a third record, person 2's 'happy' clip, that the script leaves out)."""
    gtzan = root / "GTZAN" / "concatenated_audio"
    dump(
        gtzan / "music_genre_classification_meta.json",
        [
            {
                "path": f"g{i}.wav",
                "question": "What is the genre of this music?",
                "choice_a": "Blues",
                "choice_b": "Classical",
                "choice_c": "Rock",
                "choice_d": "Jazz",
                "answer_gt": "AB"[i],
                "genre_label": "blues",
            }
            for i in range(2)
        ],
    )
    desed = root / "DESED" / "concatenated_audio"
    dump(
        desed / "desed_sound_event_detection_task.json",
        {
            "tasks": [
                {
                    "path": f"d{i}.wav",
                    "task_type": "detection",
                    "question": "What sound events are present?",
                    "choices": {"A": "Dog", "B": "Cat", "C": "Alarm", "D": "Blender"},
                    "answer_gt": "C",
                    "uniq_id": i,
                }
                for i in range(2)
            ]
        },
    )
    race = root / "race_audio"
    dump(
        race / "race_benchmark.json",
        [
            {
                "audio_path": f"high/r{i}.wav",
                "question": "Why did Tom leave?",
                "options": ["w", "x", "y", "z"],
                "answer": "D",
                "article_id": f"a{i}",
            }
            for i in range(2)
        ],
    )
    slue = root / "SLUE"
    dump(
        slue / "merged_audio_data.json",
        [
            {
                "path": f"audio/s{i}.wav",
                "question": "Which place is named?",
                **four("place"),
                "answer_gt": "A",
                "task_name": "ner",
                "dataset_name": "slue-voxpopuli",
            }
            for i in range(2)
        ],
    )
    tau = root / "TAU" / "concatenated_resampled"
    dump(
        tau / "acoustic_scene_task_meta.json",
        [
            {
                "path": f"t{i}.wav",
                "scene_label": "park",
                "question": "Which scene?",
                "choice_a": "Airport - indoor",
                "choice_b": "Park - outdoor",
                "choice_c": "Metro station",
                "choice_d": "Street traffic",
                "answer_gt": "b",
            }
            for i in range(2)
        ],
    )
    vesus = root / "VESUS"
    dump(
        vesus / "audio_emotion_dataset.json",
        [
            {
                "path": f"v{i}.wav",
                "question": "What emotion is expressed?",
                "choice_a": "Angry",
                "choice_b": "Happy",
                "choice_c": "Sad",
                "choice_d": "Monotone",
                "answer_gt": "c",
                "person_id": person,
                "emotion_label": emotion,
            }
            for i, (person, emotion) in enumerate([(1, "sad"), (2, "happy"), (3, "sad")])
        ],
    )
    vox = root / "VoxCeleb" / "concatenated_audio"
    dump(
        vox / "age_classification_task_meta.json",
        [
            {
                "path": f"age{i}.wav",
                "speaker_id_original": "id1",
                "question": "How old is the speaker?",
                "choice_a": "Young Adult (18-30)",
                "choice_b": "Early Career (31-40)",
                "choice_c": "Mid Career (41-50)",
                "choice_d": "Senior (51-70)",
                "choice_e": "Elderly (71+)",
                "answer_gt": " Senior (51-70) ",
            }
            for i in range(2)
        ],
    )
    dump(
        vox / "gender_id_task_meta.json",
        [
            {
                "path": f"sex{i}.wav",
                "speaker_id_original": "id2",
                "question": "Male or female?",
                "choice_a": "male",
                "choice_b": "female",
                "answer_gt": ["Female", "male"][i],
            }
            for i in range(2)
        ],
    )
    for folder, names in [
        (gtzan / "wav", ["g0", "g1"]),
        (desed, ["d0", "d1"]),
        (race / "high", ["r0", "r1"]),
        (slue / "audio", ["s0", "s1"]),
        (tau, ["t0", "t1"]),
        (vesus, ["v0", "v1", "v2"]),
        (vox / "wav", ["age0", "age1", "sex0", "sex1"]),
        (root / "HAD" / "real", ["h0"]),
        (root / "HAD" / "fake", ["h1"]),
    ]:
        for name in names:
            wav(folder / f"{name}.wav")
    chapter = root / "librispeech-long" / "test-clean" / "1089" / "134686"
    wav(chapter / "1089-134686-0000.flac", fmt="FLAC")
    wav(chapter / "1089-134686-0001.flac", fmt="FLAC")
    (chapter / "1089-134686.trans.txt").write_text(
        "1089-134686-0000 HE HOPED THERE WOULD BE STEW\n1089-134686-0001 STUFF IT INTO YOU\n"
    )
    return root


@pytest.fixture
def marathon(tmp_path):
    return write_audiomarathon(tmp_path / "AudioMarathon")


def test_audiomarathon_items(marathon):
    items = audiomarathon.load(marathon)
    by_id = {item.id: item for item in items}
    counts = {t: sum(i.task == t for i in items) for t in audiomarathon.TASKS}
    assert counts == {"SER": 2, "SCR": 2, "ASR": 2, "SED": 2, "MC": 2, "ASC": 2, "SD": 2, "ER": 2, "SAR": 2, "SGR": 2}
    assert [i.task for i in items][:4] == ["SER", "SER", "SCR", "SCR"]  # the leaderboard's order, files in order

    mc = by_id["MC-1"]
    assert mc.audio == str(marathon / "GTZAN" / "concatenated_audio" / "wav" / "g1.wav")
    assert (mc.answer, mc.choices, mc.metric) == ("B", ["Blues", "Classical", "Rock", "Jazz"], "audiomarathon-gtzan")
    assert (mc.domain, mc.task_type, mc.max_new_tokens) == ("music", "acoustic", 5)
    assert mc.prompt == (
        "You are a helpful audio analysis assistant.\n\n"
        "Listen to this audio segment and identify the music genre based on what you hear.\n\n"
        "Question: What is the genre of this music?\n\nOptions:\nA. Blues\nB. Classical\nC. Rock\nD. Jazz\n\n"
        "Respond with only the letter of the correct option (A, B, C, or D)."
    )
    assert mc.extra == {"dataset": "GTZAN", "genre_label": "blues"}
    assert by_id["SED-0"].choices == ["Dog", "Cat", "Alarm", "Blender"] and by_id["SED-0"].extra["uniq_id"] == 0
    assert by_id["SED-0"].prompt.endswith(
        "\n\nA. Dog\nB. Cat\nC. Alarm\nD. Blender\n\nPlease listen to the audio and "
        "select the correct answer. Reply with only the letter (A, B, C, or D)."
    )
    assert by_id["SCR-0"].audio == str(marathon / "race_audio" / "high" / "r0.wav") and by_id["SCR-0"].answer == "D"
    assert by_id["ASC-0"].answer == "B"  # upper-cased as TAU_qwen2.5.py does
    assert "A: Airport - indoor\nB: Park - outdoor\n" in by_id["ASC-0"].prompt
    assert [i.id for i in items if i.task == "ER"] == ["ER-0", "ER-2"]  # person 2's happy clip left out
    assert (
        by_id["ER-0"].answer == "C"
        and by_id["ER-0"].max_new_tokens == 10
        and "A) Angry\nB) Happy" in by_id["ER-0"].prompt
    )
    assert by_id["SAR-0"].answer == "Senior (51-70)" and len(by_id["SAR-0"].choices) == 5
    assert [by_id[f"SGR-{i}"].answer for i in range(2)] == ["female", "male"]
    assert by_id["SGR-0"].prompt.endswith("Answer with only 'a' or 'b'.")
    assert (by_id["SD-real/h0"].answer, by_id["SD-fake/h1"].answer) == ("real", "fake")
    asr = by_id["ASR-1089-134686-0001"]
    assert (asr.answer, asr.max_new_tokens, asr.domain, asr.task_type) == (
        "STUFF IT INTO YOU",
        1100,
        "speech",
        "semantic",
    )
    assert asr.extra == {"dataset": "LibriSpeech", "speaker_id": "1089", "chapter_id": "134686"}
    assert {i.domain for i in items} == {"speech", "sound", "music"}


def test_audiomarathon_one_task_folder_and_errors(marathon, tmp_path):
    assert {i.task for i in audiomarathon.load(marathon / "VoxCeleb")} == {"SAR", "SGR"}
    (marathon / "GTZAN" / "concatenated_audio" / "wav" / "g1.wav").unlink()
    missing = marathon / "GTZAN" / "concatenated_audio" / "wav" / "g1.wav"
    with pytest.raises(ValueError, match="1 of 20 audio files under .* are missing") as error:
        audiomarathon.load(marathon)
    assert str(missing) in str(error.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no AudioMarathon task found under"):
        audiomarathon.load(tmp_path / "empty")
    meta = marathon / "SLUE" / "merged_audio_data.json"
    dump(meta, [{"path": "audio/s0.wav", "question": "?", **four("x")}])
    with pytest.raises(ValueError, match=f"{meta}: record 0: missing field 'answer_gt'"):
        audiomarathon.load(marathon / "SLUE")
    meta.write_text("[{")
    with pytest.raises(ValueError, match=f"{meta}: not valid JSON"):
        audiomarathon.load(marathon / "SLUE")


def am_item(task: str, answer: str, choices: list[str]) -> Item:
    return Item("x", "x.wav", "?", answer, task, "acoustic", audiomarathon_answers.RULES[task].name, choices)


LETTERS4 = ["w", "x", "y", "z"]
SCENES = ["Airport - indoor", "Park - outdoor", "Metro station", "Street traffic"]
AGES = ["Young Adult (18-30)", "Early Career (31-40)", "Mid Career (41-50)", "Senior (51-70)", "Elderly (71+)"]


@pytest.mark.parametrize(
    ("task", "choices", "text", "reading"),
    [
        ("MC", LETTERS4, "B", "B"),
        ("MC", LETTERS4, "c) Rock", "C"),
        ("MC", LETTERS4, "The genre is D", "D"),  # ends with " D"
        ("MC", LETTERS4, "I think option a fits", "A"),
        ("MC", LETTERS4, "(B) Classical", "B"),  # "b)" in the text
        ("MC", LETTERS4, "jazz", "A"),  # its last pattern takes the "A" of "JAZZ": the script's reading, not the intent
        ("SED", LETTERS4, "The answer is C", "C"),
        ("SED", LETTERS4, "dog barking", "D"),  # its last pattern takes the first A-D letter anywhere
        ("SED", LETTERS4, "", ""),
        ("SER", LETTERS4, "B.", "B"),
        ("SER", LETTERS4, "Copenhagen", "C"),
        ("SCR", LETTERS4, "  c ", "C"),
        ("SCR", LETTERS4, "none", "NONE"),  # no A-D character: the first word, no valid label
        ("SD", ["real", "fake"], "b", "fake"),
        ("SD", ["real", "fake"], "A.", "real"),
        ("SD", ["real", "fake"], "It sounds genuine to me", "real"),
        ("SD", ["real", "fake"], "It is real, not fake", ""),
        ("SGR", ["male", "female"], "female", "female"),  # "male" is inside "female": the word check decides
        ("SGR", ["male", "female"], "A male voice", "male"),
        ("SGR", ["male", "female"], "b", "female"),
        ("ASC", SCENES, "b", "B"),
        ("ASC", SCENES, "It sounds like a metro station", "C"),
        ("ASC", SCENES, "a busy street with traffic", "D"),  # two words of choice D in the text
        (
            "ASC",
            SCENES,
            "people in a park outdoors",
            "",
        ),  # only the words before " - " count: "park", one is not enough
        ("ER", ["Angry", "Happy", "Sad", "Monotone"], "(c)", "C"),
        ("ER", ["Angry", "Happy", "Sad", "Monotone"], "d.", "D"),
        ("ER", ["Angry", "Happy", "Sad", "Monotone"], "sad", ""),  # no keyword of the script's list is said
        ("SAR", AGES, "d", "Senior (51-70)"),
        ("SAR", AGES, "I would say e", "Elderly (71+)"),
        ("SAR", AGES, "Young Adult (18-30)", "Young Adult (18-30)"),
        ("SAR", AGES, "between b and c", "Mid Career (41-50)"),  # it ends with " c"
        ("SAR", AGES, "b or c, hard to say", ""),
    ],
)
def test_audiomarathon_reads_answers_as_its_scripts_do(task, choices, text, reading):
    right = am_item(task, reading or "-", choices)
    assert judge(right, text) == (float(bool(reading)), float(bool(reading)), reading)
    assert judge(am_item(task, "another", choices), text)[:2] == (0.0, 0.0)


def test_audiomarathon_transcripts():
    item = am_item("ASR", "HE HOPED THERE WOULD BE STEW FOR DINNER", None)
    said = "He hoped there would be stew for dinner."
    assert judge(item, f"Spoken Content: {said}") == (1.0, 0.0, said)
    value, wer, reading = judge(item, "spoken content: he hoped there'd be stew")
    assert reading == "he hoped there'd be stew"
    # standardised, the apostrophe goes: "thered"; 8 reference words, 5 said: 1 substitution + 3 deletions
    assert wer == pytest.approx(4 / 8) and value == pytest.approx(0.5)
    assert judge(item, "")[:2] == (0.0, 1.0)  # an empty transcript counts as 100% WER
    assert judge(item, "Spoken Content: <transcribed text here>")[1] == 1.0
    long = judge(item, "a b c d e f g h i j k l m n o p")  # 16 words for 8: WER 2, score -1, not floored
    assert long[:2] == (-1.0, 2.0)


def test_f1_by_hand():
    # truths A A B B, predictions A B B B: A: tp1 fn1 -> 2/3; B: tp2 fp1 -> 4/5; C, D absent
    pairs = [("A", "A"), ("A", "B"), ("B", "B"), ("B", "B")]
    assert f1_score(pairs, ["A", "B"]) == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert f1_score(pairs, ["A", "B", "C", "D"]) == pytest.approx((2 / 3 + 4 / 5) / 4)  # absent labels score 0
    assert f1_score(pairs, ["A", "B"], weighted=True) == pytest.approx((2 / 3 * 2 + 4 / 5 * 2) / 4)
    answers, readings = ["A", "A", "B", "B", "C"], ["A", "B", "B", "B", ""]  # the last reading is no valid label
    scores = [float(a == r) for a, r in zip(answers, readings, strict=True)]
    assert TaskMetric("macro_f1", valid=("A", "B", "C", "D")).combine(answers, readings, scores) == pytest.approx(
        (2 / 3 + 4 / 5) / 2
    )  # the invalid pair is dropped; labels that occur: A, B
    assert TaskMetric("macro_f1", ("A", "B", "C", "D"), "valid").combine(answers, readings, scores) == pytest.approx(
        (2 / 3 + 4 / 5) / 4
    )
    assert TaskMetric("accuracy").combine(answers, readings, scores) == pytest.approx(3 / 5)
    assert TaskMetric("macro_f1").combine(["A"], [""], [0.0]) == 0.0  # no valid pair
    assert TaskMetric("macro_f1").combine([], [], []) is None


def test_summary_scores_a_benchmark_task_by_its_own_metric():
    rule = get_rule("audiomarathon-gtzan")
    rows = []
    for method, keep, readings in [(UNPRUNED, None, "AABB"), ("fastv", 0.5, "ABBB")]:
        for i, (answer, reading) in enumerate(zip("AABB", readings, strict=True)):
            rows.append(
                {
                    "id": f"MC-{i}",
                    "task": "MC",
                    "task_type": "acoustic",
                    "domain": "music",
                    "metric": rule.name,
                    "method": method,
                    "keep_ratio": keep,
                    "answer": answer,
                    "reading": reading,
                    "score": float(answer == reading),
                    "raw": float(answer == reading),
                    "audio_tokens_before": 10,
                    "audio_tokens_after": 10,
                    "prefill_ms": 1.0,
                    "details": {},
                }
            )
    out = summarize(rows, [Setting(UNPRUNED, None), Setting("fastv", 0.5)])
    task = {r["method"]: r for r in out["tasks"]}
    assert task[UNPRUNED]["score"] == pytest.approx(0.5)  # 2 labels of the 4 GTZAN averages (labels=[A, B, C, D])
    assert task["fastv"]["score"] == pytest.approx((2 / 3 + 4 / 5) / 4) and task["fastv"]["metric"] == "macro_f1"
    assert task["fastv"]["accuracy"] == pytest.approx(3 / 4)  # the right/wrong mean is kept beside it
    assert task["fastv"]["percent_of_unpruned"] == pytest.approx(100 * (2 / 3 + 4 / 5) / 4 / 0.5)
    (music,) = [r for r in out["domains"] if r["method"] == "fastv"]
    assert music["domain"] == "music" and music["score"] == task["fastv"]["score"]


# ---------------------------------------------------------------------- MMAU


def write_mmau(root: Path) -> Path:
    records = [
        {
            "id": "m1",
            "audio_id": "./test-mini-audios/m1.wav",
            "question": "Who speaks?",
            "choices": ["A man", "A woman", "A child", "A robot"],
            "answer": "A man",
            "dataset": "AudioSet",
            "task": "sound",
            "split": "test-mini",
            "category": "Reasoning",
            "sub-category": "Acoustic Source Inference",
            "difficulty": "medium",
        },
        {
            "id": "m2",
            "audio_id": "./test-mini-audios/m2.wav",
            "question": "Which instrument?",
            "choices": ["Piano", "Violin"],
            "answer": "Violin",
            "task": "music",
            "difficulty": "easy",
        },
        {
            "id": "m3",
            "audio_id": "./test-mini-audios/m3.wav",
            "question": "What is said?",
            "choices": ["yes", "no"],
            "answer": "no",
            "task": "speech",
            "difficulty": "hard",
        },
    ]
    for record in records:
        wav(root / record["audio_id"])
    return dump(root / "mmau-test-mini.json", records)


@pytest.mark.parametrize(
    ("prediction", "right"),
    [
        ("A man", True),
        ("The speaker is a man.", True),  # every answer token, no token only a wrong choice has
        ("a MAN", True),
        ("A man or a woman", False),  # "woman" belongs to a wrong choice only
        ("man", False),  # "a" of the answer missing
        ("B", False),  # a letter names no choice
        ("", False),
    ],
)
def test_mmau_string_match(prediction, right):
    choices = ["A man", "A woman", "A child", "A robot"]
    assert mmau.string_match("A man", prediction, choices) is right
    item = Item("x", "x.wav", "?", "A man", "sound", "acoustic", "mmau", choices)
    assert judge(item, prediction)[:2] == (float(right), float(right))
    assert judge(item, "A woman") == (0.0, 0.0, "A woman")  # the reading names the wrong choice it matched


def test_mmau_items_and_errors(tmp_path):
    file = write_mmau(tmp_path / "mmau")
    items = load_benchmark("mmau", file.parent)
    assert [i.id for i in items] == ["m1", "m2", "m3"]
    m1 = items[0]
    assert m1.audio == str(file.parent / "test-mini-audios" / "m1.wav") and m1.metric == "mmau"
    assert (m1.task, m1.domain, m1.task_type, m1.prompt) == ("sound", "sound", "acoustic", None)
    assert m1.extra == {
        "dataset": "AudioSet",
        "split": "test-mini",
        "category": "Reasoning",
        "sub-category": "Acoustic Source Inference",
        "difficulty": "medium",
    }
    assert items[2].task_type == "semantic"
    assert BENCHMARKS["mmau"].max_new_tokens == 64
    records = json.loads(file.read_text())
    del records[1]["answer"]
    dump(file, records)
    with pytest.raises(ValueError, match=r"record 1 \(m2\): no answer \(MMAU's test split"):
        mmau.load(file)
    with pytest.raises(ValueError, match="no mmau-test-mini.json there"):
        mmau.load(tmp_path)


# ---------------------------------------------------------------------- MMAU-Pro


def write_mmau_pro(root: Path) -> Path:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [
        {
            "id": "p1",
            "audio_path": ["data/p1.wav"],
            "question": "Which bird?",
            "choices": ["Crow", "Owl"],
            "answer": "Owl",
            "category": "sound",
            "length_type": "short",
        },
        {
            "id": "p2",
            "audio_path": ["data/p2.wav"],
            "question": "Describe it.",
            "choices": [],
            "answer": "calm",
            "category": "open",
            "length_type": "short",
        },
        {
            "id": "p3",
            "audio_path": ["data/p3.wav"],
            "question": "Say it in caps.",
            "choices": [],
            "answer": None,
            "category": "instruction following",
            "length_type": "short",
        },
        {
            "id": "p4",
            "audio_path": ["data/p4a.wav", "data/p4b.wav"],
            "question": "Same singer?",
            "choices": ["yes", "no"],
            "answer": "yes",
            "category": "multi",
            "length_type": "short",
        },
        {
            "id": "p5",
            "audio_path": ["data/p5.wav"],
            "question": "Which key?",
            "choices": ["C major", "A minor"],
            "answer": "A minor",
            "category": "music",
            "length_type": "long",
        },
        {
            "id": "p6",
            "audio_path": ["data/p6.wav"],
            "question": "Where is the speaker?",
            "choices": ["left", "right"],
            "answer": "left",
            "category": "spatial",
            "length_type": "short",
        },
    ]
    for name in ("p1", "p5", "p6"):
        wav(root / "data" / f"{name}.wav")
    root.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), root / "test.parquet")
    return root


def test_mmau_pro_items(tmp_path, caplog):
    root = write_mmau_pro(tmp_path / "MMAU-Pro")
    with caplog.at_level("INFO", logger="headrouter"):
        items = mmau_pro.load(root)
    assert [i.id for i in items] == ["p1", "p5", "p6"]
    for why in ("1 open questions", "1 instruction following questions", "1 questions over more than one clip"):
        assert f"mmau-pro: left out {why}" in caplog.text
    p1, p5, p6 = items
    assert p1.audio == str(root / "data" / "p1.wav") and (p1.choices, p1.answer, p1.metric) == (
        ["Crow", "Owl"],
        "Owl",
        "mmau",
    )
    assert (p5.task, p5.domain, p5.task_type) == ("music", "music", "acoustic") and p5.extra == {"length_type": "long"}
    assert (p6.task, p6.domain, p6.task_type) == ("spatial", None, "other")
    assert judge(p5, "It is in A minor.")[:2] == (1.0, 1.0) and judge(p5, "C major")[:2] == (0.0, 0.0)
    (root / "data" / "p6.wav").unlink()
    with pytest.raises(ValueError, match=f"1 of 3 audio files under {root} are missing"):
        mmau_pro.load(root / "test.parquet")
    (root / "test.parquet").write_text("not parquet")
    with pytest.raises(ValueError, match="not a readable parquet file"):
        mmau_pro.load(root)


# ---------------------------------------------------------------------- Hugging Face datasets


def test_hf_save_to_disk_with_embedded_audio(tmp_path):
    datasets = pytest.importorskip("datasets")
    clip = wav(tmp_path / "src" / "a.wav")
    data = datasets.Dataset.from_dict(
        {
            "id": ["q1", "q2"],
            "audio": [{"bytes": clip.read_bytes(), "path": "a.wav"}, {"bytes": clip.read_bytes(), "path": "b.flac"}],
            "question": ["Which note?", "Say it"],
            "choices": [["C", "E"], None],
            "answer": ["E", "hello"],
            "speaker": ["s1", "s2"],
        }
    ).cast_column("audio", datasets.Audio())
    data.save_to_disk(str(tmp_path / "saved"))
    items = load_benchmark("hf", tmp_path / "saved", audio_dir=tmp_path / "clips")
    assert [(i.id, i.metric, i.choices, i.task, i.task_type) for i in items] == [
        ("q1", "choice", ["C", "E"], "hf", "unknown"),
        ("q2", "exact", None, "hf", "unknown"),
    ]
    assert items[0].audio == str(tmp_path / "clips" / "q1.wav") and items[1].audio.endswith("q2.flac")
    assert Path(items[0].audio).read_bytes() == clip.read_bytes()  # the embedded bytes, written once
    assert items[0].extra == {"speaker": "s1"}
    with pytest.raises(ValueError, match="embeds its audio: pass audio_dir"):
        hf.load(tmp_path / "saved")
    with pytest.raises(ValueError, match="columns, split, metric: only for the hf benchmark"):
        load_benchmark("mmau", tmp_path, columns={"audio": "a"}, split="test", metric="wer")
    wer = hf.load(tmp_path / "saved", audio_dir=tmp_path / "clips", metric="wer")
    assert {i.metric for i in wer} == {"wer"}


def test_hf_parquet_with_paths_and_column_names(tmp_path):
    datasets = pytest.importorskip("datasets")
    wav(tmp_path / "clips" / "x.wav")
    datasets.Dataset.from_dict(
        {"wav": ["clips/x.wav"], "prompt": ["What?"], "label_text": ["yes"], "domain": ["speech"]}
    ).to_parquet(str(tmp_path / "t.parquet"))
    with pytest.raises(ValueError, match="no audio column \\(tried audio, audio_path, path, file\\); columns: wav"):
        hf.load(tmp_path / "t.parquet")
    (item,) = hf.load(tmp_path / "t.parquet", columns={"audio": "wav", "answer": "label_text"})
    assert (item.id, item.audio, item.question, item.answer) == ("0", str(tmp_path / "clips" / "x.wav"), "What?", "yes")
    assert item.domain == "speech"
    with pytest.raises(ValueError, match="no column 'nope' \\(for answer\\)"):
        hf.load(tmp_path / "t.parquet", columns={"audio": "wav", "answer": "nope"})
    with pytest.raises(ValueError, match="unknown item field\\(s\\) sound"):
        hf.load(tmp_path / "t.parquet", columns={"sound": "wav"})


def test_hf_dataset_dict_needs_a_split_and_a_bad_row_is_named(tmp_path):
    datasets = pytest.importorskip("datasets")
    wav(tmp_path / "x.wav")
    part = datasets.Dataset.from_dict(
        {"audio": [str(tmp_path / "x.wav")], "question": ["?"], "answer": ["D"], "choices": [["A", "B"]]}
    )
    datasets.DatasetDict({"test": part, "dev": part}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(ValueError, match="holds the splits test, dev: name one"):
        hf.load(tmp_path / "dd")
    with pytest.raises(ValueError, match=r"row 0: not a valid item \(item 0: answer 'D' is not one of its choices\)"):
        hf.load(tmp_path / "dd", split="dev")


def test_hf_without_datasets_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match="pip install datasets"):
        hf.load(tmp_path)


# ---------------------------------------------------------------------- the registry and the items format


def test_load_benchmark_interleaves_tasks_and_limits(marathon):
    items = load_benchmark("audiomarathon", marathon, limit=12)
    assert [i.task for i in items] == ["SER", "SCR", "ASR", "SED", "MC", "ASC", "SD", "ER", "SAR", "SGR", "SER", "SCR"]
    assert [
        i.task
        for i in interleave(
            [am_item("MC", "A", LETTERS4), am_item("MC", "A", LETTERS4), am_item("SD", "real", ["real", "fake"])]
        )
    ] == ["MC", "SD", "MC"]
    with pytest.raises(ValueError, match="unknown benchmark 'marathon'; known: items, audiomarathon, mmau-pro"):
        load_benchmark("marathon", marathon)
    with pytest.raises(ValueError, match="limit must be >= 1"):
        load_benchmark("audiomarathon", marathon, limit=0)
    with pytest.raises(FileNotFoundError, match="items file"):
        load_benchmark("items", marathon / "none.jsonl")


def test_items_keep_unknown_fields_in_extra(tmp_path):
    path = tmp_path / "items.jsonl"
    line = {
        "id": "a",
        "audio": "a.wav",
        "question": "?",
        "answer": "yes",
        "task": "t",
        "task_type": "semantic",
        "speaker": "s1",
        "difficulty": {"level": 2},
    }
    path.write_text(json.dumps(line) + "\n")
    (item,) = read_items(path)
    assert item.extra == {"speaker": "s1", "difficulty": {"level": 2}}
    write_items([item], tmp_path / "again.jsonl")
    (again,) = read_items(tmp_path / "again.jsonl")
    assert again == item  # extra written back and read again
    assert Item.from_dict({**line, "extra": {"k": 1}}).extra == {"k": 1, "speaker": "s1", "difficulty": {"level": 2}}
    for bad, message in [
        ({**line, "metric": "nope"}, "metric must be one of"),
        ({**line, "max_new_tokens": 0}, "max_new_tokens must be an int >= 1"),
        ({**line, "extra": [1]}, "extra must be an object"),
    ]:
        path.write_text(json.dumps(bad) + "\n")
        with pytest.raises(ValueError, match=f"{path}:1: not a valid item .*{message}"):
            read_items(path)
    path.write_text(json.dumps({**line, "metric": "audiomarathon-race", "choices": LETTERS4}) + "\n")
    assert read_items(path)[0].metric == "audiomarathon-race"  # a benchmark rule named in an items file resolves
