"""Evaluation end to end on a tiny stand-in checkpoint: schema, counts, keep 1.0 == unpruned, skipped items,
summaries recomputed by hand, the scoring rules by hand, the paper table, and resumed runs (interrupted, then run
again: the same answers as an uninterrupted run, and no answer computed twice)."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from pathlib import Path

import pytest
import soundfile
import torch

import headrouter
from headrouter import cli
from headrouter.adapters.chat_inputs import build_inputs, processor_inputs
from headrouter.adapters.qwen2_5_omni import loading, tiny
from headrouter.evaluation import runner as runner_module
from headrouter.evaluation.journal import weights_fingerprint
from headrouter.evaluation.report import format_markdown, paper_markdown, paper_table, write_report
from headrouter.evaluation.runner import UNPRUNED, evaluate, item_score, load_items
from headrouter.evaluation.summary import Setting, summarize
from headrouter.evaluation.tasks.items import Item, score, word_error_rate, write_items

RATE = tiny.SAMPLE_RATE
METHODS = headrouter.available_methods()
KEEP = (1.0, 0.3)
TOKENS = 3
NOTES = {"A": 440.0, "C": 261.6, "E": 329.6, "G": 392.0}


def build_standin(root: Path) -> Path:
    """A from_pretrained folder holding the tiny random thinker and its processor (a stand-in for the shipped model)."""
    model_dir = root / "model"
    tiny.tiny_model().save_pretrained(model_dir)
    tiny.tiny_processor().save_pretrained(model_dir)
    return model_dir


def standin_items(root: Path, n: int = 10, missing: int | None = 4) -> list[Item]:
    """``n`` items over tone clips of 1 to 3 s (choice, exact and wer items, two task types); item ``missing`` points
    at a file that does not exist. Answers are placeholders."""
    items = []
    for i in range(n):
        note = "ACEG"[i % 4]
        audio = f"clip{i}.wav"
        if i != missing:
            soundfile.write(root / audio, tiny.tone(1.0 + i % 3, NOTES[note], seed=i), RATE)
        kind = i % 3
        if kind == 0:
            items.append(Item(f"pitch-{i}", audio, "Which note is played?", note, "pitch", "acoustic", "choice",
                              list("ACEG")))  # fmt: skip
        elif kind == 1:
            items.append(Item(f"digits-{i}", audio, "Transcribe the digits.", "one two", "digits", "semantic", "wer"))
        else:
            items.append(Item(f"word-{i}", audio, "Which word was spoken?", "yes", "word", "semantic", "exact"))
    return items


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    """The stand-in checkpoint and 10 items (one without its audio) whose exact/wer answers are the model's own
    unpruned answers (plus two words for wer items), so that unpruned scores are above zero."""
    root = tmp_path_factory.mktemp("standin")
    model_dir = build_standin(root)
    items = standin_items(root)
    write_items(items, root / "draft.jsonl")
    model = loading.load_model(model_dir)
    processor = loading.load_processor(model_dir)
    draft = evaluate(model, processor, load_items(root / "draft.jsonl"), [], max_new_tokens=TOKENS, progress=False)
    said = {row["id"]: row["prediction"] for row in draft["predictions"]}
    for item in items:
        if item.metric == "exact" and item.id in said:
            item.answer = said[item.id]
        elif item.metric == "wer" and item.id in said:
            item.answer = f"{said[item.id]} one two"
    write_items(items, root / "items.jsonl")
    return {"root": root, "model_dir": model_dir, "model": model, "processor": processor}


@pytest.fixture(scope="module")
def results(standin):
    items = load_items(standin["root"] / "items.jsonl")
    return evaluate(standin["model"], standin["processor"], items, METHODS, KEEP, max_new_tokens=TOKENS, progress=False)


SETTINGS = 1 + len(METHODS) * len(KEEP)
ROW_KEYS = {
    "task",
    "task_type",
    "domain",
    "method",
    "keep_ratio",
    "items",
    "tasks",
    "score",
    "score_ci",
    "percent_of_unpruned",
    "percent_of_unpruned_ci",
    "audio_tokens_before",
    "audio_tokens_after",
    "prefill_ms",
    "prefill_vs_unpruned",
    "routed_to_own_type",
}


def test_schema_and_counts(results):
    assert results["schema"] == "headrouter-eval/1"
    assert results["counts"] == {"items": 10, "evaluated": 9, "skipped": 1}
    assert {"cpu", "cores", "torch", "transformers"} <= set(results["machine"])
    assert results["settings"]["methods"] == METHODS and results["settings"]["keep_ratios"] == list(KEEP)
    assert results["settings"]["method_settings"] == {m: headrouter.get_method(m).config() for m in METHODS}
    assert len(results["predictions"]) == 9 * SETTINGS
    assert len(results["tasks"]) == 3 * SETTINGS  # pitch, digits, word
    assert len(results["families"]) == 2 * SETTINGS  # acoustic, semantic
    assert results["domains"] == []  # the synthetic items name no domain
    assert len(results["overall"]) == SETTINGS
    for row in results["tasks"]:
        assert set(row) == ROW_KEYS | {"metric", "accuracy", "wer"}
    for row in results["families"] + results["overall"]:
        assert set(row) == ROW_KEYS
    for row in results["predictions"]:
        assert row["extra"] == {} and row["reading"] is None and row["domain"] is None
    assert sum(r["items"] for r in results["tasks"] if r["method"] == UNPRUNED) == 9
    assert [r["items"] for r in results["overall"]] == [9] * SETTINGS
    assert {r["metric"] for r in results["tasks"]} == {"accuracy", "wer"}
    json.dumps(results)  # every figure is plain JSON


def test_broken_item_is_skipped_and_counted(standin, caplog):
    items = load_items(standin["root"] / "items.jsonl")[3:6]
    with caplog.at_level(logging.WARNING, logger="headrouter"):
        out = evaluate(
            standin["model"], standin["processor"], items, ["frame"], [0.5], max_new_tokens=1, progress=False
        )
    missing = str(standin["root"] / "clip4.wav")
    assert out["counts"] == {"items": 3, "evaluated": 2, "skipped": 1}
    assert out["skipped"][0]["id"] == "digits-4" and out["skipped"][0]["audio"] == missing
    assert missing in caplog.text
    assert {r["id"] for r in out["predictions"]} == {"pitch-3", "word-5"}


def test_keep_one_answers_exactly_as_unpruned(results):
    unpruned = {r["id"]: r for r in results["predictions"] if r["method"] == UNPRUNED}
    full = [r for r in results["predictions"] if r["keep_ratio"] == 1.0]
    assert len(full) == 9 * len(METHODS)
    for row in full:
        assert row["prediction"] == unpruned[row["id"]]["prediction"], (row["method"], row["id"])
        assert row["audio_tokens_after"] == row["audio_tokens_before"]
    for row in results["tasks"] + results["families"] + results["overall"]:
        if row["keep_ratio"] == 1.0 and row["percent_of_unpruned"] is not None:
            assert row["percent_of_unpruned"] == 100.0
    assert all(r["percent_of_unpruned"] == 100.0 for r in results["overall"] if r["keep_ratio"] == 1.0)
    assert results["overall"][0]["score"] > 0  # so the check above is not vacuous


def test_audio_token_counts(results, standin):
    seconds = {f"{kind}-{i}": 1.0 + i % 3 for i in range(10) for kind in ("pitch", "digits", "word")}
    for row in results["predictions"]:
        assert row["audio_tokens_before"] == seconds[row["id"]] * tiny.AUDIO_TOKENS_PER_SECOND
        keep = 1.0 if row["keep_ratio"] is None else row["keep_ratio"]
        assert row["audio_tokens_after"] == math.ceil(round(keep * row["audio_tokens_before"], 9))


def test_summaries_recomputed_by_hand(results):
    preds = results["predictions"]

    def mean(values):
        return sum(values) / len(values)

    for row in results["tasks"]:
        mine = [p for p in preds if (p["task"], p["method"], p["keep_ratio"]) == (row["task"], row["method"],
                row["keep_ratio"])]  # fmt: skip
        assert row["items"] == len(mine)
        assert row["score"] == pytest.approx(mean([p["score"] for p in mine]))
        assert row["audio_tokens_after"] == pytest.approx(mean([p["audio_tokens_after"] for p in mine]))
        assert row["prefill_ms"] == pytest.approx(mean([p["prefill_ms"] for p in mine]))
        if row["metric"] == "wer":
            assert row["wer"] == pytest.approx(mean([p["raw"] for p in mine])) and row["accuracy"] is None
        else:
            assert row["accuracy"] == pytest.approx(row["score"]) and row["wer"] is None
    for row in results["families"] + results["overall"]:
        parts = [t for t in results["tasks"] if (t["method"], t["keep_ratio"]) == (row["method"], row["keep_ratio"])
                 and row["task_type"] in (None, t["task_type"])]  # fmt: skip
        assert row["tasks"] == len(parts)
        assert row["score"] == pytest.approx(mean([t["score"] for t in parts]))
        base = next(r for r in results["families"] + results["overall"]
                    if r["method"] == UNPRUNED and r["task_type"] == row["task_type"])  # fmt: skip
        if base["score"]:
            assert row["percent_of_unpruned"] == pytest.approx(100 * row["score"] / base["score"])
        else:
            assert row["percent_of_unpruned"] is None
        assert row["prefill_vs_unpruned"] == pytest.approx(row["prefill_ms"] / base["prefill_ms"])
    for row in preds:
        assert row["prefill_ms"] > 0
    for row in results["tasks"] + results["families"] + results["overall"]:
        assert row["routed_to_own_type"] is None  # headrouter without a table does not route


def test_batches_answer_as_one_by_one(standin, results):
    items = load_items(standin["root"] / "items.jsonl")
    out = evaluate(
        standin["model"], standin["processor"], items, ["fastv"], [0.3], batch_size=4, max_new_tokens=TOKENS,
        progress=False,
    )  # fmt: skip
    alone = {(r["id"], r["method"], r["keep_ratio"]): r for r in results["predictions"]}
    assert out["counts"] == results["counts"]
    for row in out["predictions"]:
        ref = alone[row["id"], row["method"], row["keep_ratio"]]
        assert (row["prediction"], row["audio_tokens_after"]) == (ref["prediction"], ref["audio_tokens_after"])


def test_an_items_own_answer_length_and_extra_fields(standin):
    """An item's max_new_tokens cuts its answer where generating with that limit stops, also in a batch with items of
    other lengths; its extra fields and domain come back in its prediction rows."""
    items = load_items(standin["root"] / "items.jsonl")[:3]
    alone = {
        n: evaluate(standin["model"], standin["processor"], items, [], max_new_tokens=n, progress=False) for n in (1, 3)
    }
    own = [
        dataclasses.replace(item, max_new_tokens=n, extra={"n": n}, domain="music")
        for item, n in zip(items, (1, 3, 1), strict=True)
    ]
    out = evaluate(standin["model"], standin["processor"], own, [], batch_size=3, max_new_tokens=2, progress=False)
    for row, n in zip(out["predictions"], (1, 3, 1), strict=True):
        assert row["prediction"] == next(r["prediction"] for r in alone[n]["predictions"] if r["id"] == row["id"])
        assert row["extra"] == {"n": n} and row["domain"] == "music"
    assert len(alone[3]["predictions"][1]["prediction"]) > len(alone[1]["predictions"][1]["prediction"])
    assert [r["domain"] for r in out["domains"]] == ["music"]


def test_full_model_generates_through_its_thinker(standin, caplog):
    items = load_items(standin["root"] / "items.jsonl")[:2]
    full = tiny.tiny_model(full=True)
    with caplog.at_level(logging.WARNING, logger="headrouter"):
        out = evaluate(full, standin["processor"], items, ["fastv"], [0.5], max_new_tokens=2, progress=False)
    assert out["settings"]["model_class"] == "Qwen2_5OmniForConditionalGeneration"
    assert [r["audio_tokens_after"] for r in out["predictions"]] == [25, 13, 50, 25]
    assert "talker" not in caplog.text  # text answers: no warning about speech output
    assert not hasattr(full, "headrouter") and not hasattr(full.thinker, "headrouter")


def test_head_table_goes_to_the_methods_that_use_one(standin, tmp_path, caplog):
    samples = [
        headrouter.CalibrationSample(tiny.tone(1.0), "Which note?", "acoustic", RATE),
        headrouter.CalibrationSample(tiny.tone(2.0, 300.0), "What was said?", "semantic", RATE),
    ]
    headrouter.calibrate(standin["model"], standin["processor"], samples, progress=False).save_pretrained(tmp_path)
    items = load_items(standin["root"] / "items.jsonl")[:2]
    out = evaluate(standin["model"], standin["processor"], items, ["headrouter"], [0.5], table=tmp_path,
                   max_new_tokens=1, progress=False)  # fmt: skip
    assert out["settings"]["table"] == headrouter.HeadTable.from_pretrained(tmp_path).meta
    routed = [p for p in out["predictions"] if p["method"] == "headrouter"]
    assert len(routed) == 2 and all(set(p["details"]["task_mixture"]) == {"acoustic", "semantic"} for p in routed)
    own = {p["task_type"]: float(max(p["details"]["task_mixture"].items(), key=lambda kv: kv[1])[0] == p["task_type"])
           for p in routed}  # fmt: skip
    for row in out["families"]:
        expected = own[row["task_type"]] if row["method"] == "headrouter" else None
        assert row["routed_to_own_type"] == expected
    assert "## Routing" in format_markdown(out)
    # the settings of a method as named; the table it was handed is settings["table"]
    assert out["settings"]["method_settings"] == {"headrouter": headrouter.get_method("headrouter").config()}
    with caplog.at_level(logging.WARNING, logger="headrouter"):
        out = evaluate(standin["model"], standin["processor"], items[:1], ["fastv", "segment"], [0.5], table=tmp_path,
                       max_new_tokens=1, progress=False)  # fmt: skip
    assert "a head table was given but none of the methods uses one; it is unused" in caplog.text
    assert all(p["details"] == {} for p in out["predictions"])


def test_bad_calls_fail_before_any_item_runs(standin):
    model, processor = standin["model"], standin["processor"]
    items = load_items(standin["root"] / "items.jsonl")
    with pytest.raises(ValueError, match="keep ratios must be in"):
        evaluate(model, processor, items, ["fastv"], [0.0], progress=False)
    with pytest.raises(ValueError, match="must not repeat"):
        evaluate(model, processor, items, ["fastv", "fastv"], [0.5], progress=False)
    with pytest.raises(ValueError, match="prune_layer"):
        evaluate(model, processor, items, ["fastv"], [0.5], prune_layer=9, progress=False)
    with pytest.raises(ValueError, match="unknown method"):
        evaluate(model, processor, items, ["nope"], [0.5], progress=False)
    with pytest.raises(ValueError, match="ids must be unique"):
        evaluate(model, processor, items[:2] * 2, ["fastv"], [0.5], progress=False)
    with pytest.raises(ValueError, match="items is empty"):
        evaluate(model, processor, [], ["fastv"], [0.5], progress=False)
    headrouter.wrap(model, keep_ratio=0.5)
    try:
        with pytest.raises(ValueError, match="unwrapped model"):
            evaluate(model, processor, items, ["fastv"], [0.5], progress=False)
    finally:
        headrouter.unwrap(model)
    with pytest.raises(ValueError, match="all 1 items failed"):
        evaluate(model, processor, items[4:5], ["fastv"], [0.5], progress=False)
    with pytest.raises(FileNotFoundError, match="items file"):
        load_items(standin["root"] / "nowhere.jsonl")


def test_report_files(results, tmp_path):
    paths = write_report(results, tmp_path, plot=False)
    saved = json.loads(paths["json"].read_text())
    assert "predictions" not in saved and saved["overall"] == results["overall"]
    lines = paths["predictions"].read_text().splitlines()
    assert [json.loads(line) for line in lines] == results["predictions"]
    markdown = paths["markdown"].read_text()
    assert "| method | keep 1.0 | keep 0.3 |" in markdown
    for method in METHODS:
        assert f"| {method} | 100.0 [100.0, 100.0] |" in markdown
    assert "digits-4" in markdown  # the skipped item is listed
    assert markdown == format_markdown(results) + "\n"
    assert saved["paper_table"] == paper_table(results)
    assert "## Paper table: percent of unpruned, per task, domain and task type" in markdown
    header = "| method | keep | pitch | digits | word | acoustic (mean) | semantic (mean) | average |"
    assert header in markdown  # tasks and task types in the items' order, then the average


def prediction(task, task_type, domain, method, keep, score):
    return {
        "id": f"{task}-{method}",
        "task": task,
        "task_type": task_type,
        "domain": domain,
        "metric": "exact",
        "method": method,
        "keep_ratio": keep,
        "answer": "a",
        "reading": None,
        "score": score,
        "raw": score,
        "audio_tokens_before": 10,
        "audio_tokens_after": 10,
        "prefill_ms": 1.0,
        "details": {},
    }


def test_paper_table_by_hand():
    """Three tasks over two domains and two task types: each column's percent recomputed by hand."""
    scores = {  # task: (task type, domain, unpruned, fastv 0.5, fastv 0.3)
        "asr": ("semantic", "speech", 0.8, 0.8, 0.4),
        "emotion": ("acoustic", "speech", 0.5, 0.6, 0.25),
        "genre": ("acoustic", "music", 0.4, 0.2, 0.4),
    }
    rows = []
    for task, (family, domain, *values) in scores.items():
        for (method, keep), value in zip([(UNPRUNED, None), ("fastv", 0.5), ("fastv", 0.3)], values, strict=True):
            rows.append(prediction(task, family, domain, method, keep, value))
    results = summarize(rows, [Setting(UNPRUNED, None), Setting("fastv", 0.5), Setting("fastv", 0.3)])
    table = paper_table(results)
    labels = [c["label"] for c in table["columns"]]
    assert labels == [
        "emotion",
        "genre",
        "asr",
        "speech (mean)",
        "music (mean)",
        "acoustic (mean)",
        "semantic (mean)",
        "average",
    ]
    assert table["unpruned"]["speech (mean)"] == pytest.approx(0.65) and table["unpruned"]["average"] == pytest.approx(
        1.7 / 3
    )
    (high, low) = table["rows"]
    assert (high["method"], high["keep_ratio"], low["keep_ratio"]) == ("fastv", 0.5, 0.3)
    by_hand = {
        "emotion": 120.0,
        "genre": 50.0,
        "asr": 100.0,
        "speech (mean)": 100 * 0.7 / 0.65,
        "music (mean)": 50.0,
        "acoustic (mean)": 100 * 0.4 / 0.45,
        "semantic (mean)": 100.0,
        "average": 100 * (1.6 / 3) / (1.7 / 3),
    }
    assert high["percent_of_unpruned"] == pytest.approx(by_hand)
    assert low["percent_of_unpruned"]["genre"] == pytest.approx(100.0)
    markdown = paper_markdown(table)
    assert "| unpruned | - | 50.0 | 40.0 | 80.0 | 65.0 | 40.0 | 45.0 | 80.0 | 56.7 |" in markdown
    assert "| fastv | 0.5 | 120.0 | 50.0 | 100.0 | 107.7 | 50.0 | 88.9 | 100.0 | 94.1 |" in markdown
    # a domain whose only task has its name (MMAU's "music") is not repeated as a column
    rows = [prediction("music", "acoustic", "music", m, k, 0.5) for m, k in [(UNPRUNED, None), ("fastv", 0.5)]]
    results = summarize(rows, [Setting(UNPRUNED, None), Setting("fastv", 0.5)])
    assert [c["label"] for c in paper_table(results)["columns"]] == ["music", "acoustic (mean)", "average"]


# ---------------------------------------------------------------------- resumable runs


@pytest.fixture
def counted(monkeypatch):
    """The (item ids, setting) of every answer the runner computes (warm-up calls left out); setting ``stop`` to N makes
    the N+1-th raise KeyboardInterrupt, as Ctrl-C would."""
    state = {"calls": [], "stop": None}
    answer = runner_module._Runner.answer

    def counting(self, batch, setting, max_new_tokens=None):
        if max_new_tokens is None:
            if state["stop"] is not None and len(state["calls"]) == state["stop"]:
                raise KeyboardInterrupt
            state["calls"].append(([item.id for item in batch.items], setting))
        return answer(self, batch, setting, max_new_tokens)

    monkeypatch.setattr(runner_module._Runner, "answer", counting)
    return state


def without_time(rows):
    return [{k: v for k, v in row.items() if k != "prefill_ms"} for row in rows]


def test_an_interrupted_run_continues_where_it_stopped(standin, tmp_path, counted):
    items = load_items(standin["root"] / "items.jsonl")[:3]

    def run(journal, keep=(0.5,)):
        return evaluate(
            standin["model"],
            standin["processor"],
            items,
            ["frame"],
            keep,
            max_new_tokens=TOKENS,
            journal=journal,
            progress=False,
        )

    whole = run(tmp_path / "whole.jsonl")
    assert len(counted["calls"]) == 6 and whole["settings"]["resumed"] == 0  # 3 items x (unpruned, frame 0.5)
    journal = tmp_path / "out" / "progress.jsonl"
    counted.update(calls=[], stop=4)
    with pytest.raises(KeyboardInterrupt):
        run(journal)
    first = counted["calls"]
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert lines[0]["journal"] == "headrouter-eval-journal/1" and len(lines) == 1 + 4  # what was done is kept
    assert lines[0]["settings"]["max_new_tokens"] == TOKENS

    counted.update(calls=[], stop=None)
    again = run(journal)
    done = {(i, s) for ids, s in first for i in ids}
    assert {(i, s) for ids, s in counted["calls"] for i in ids}.isdisjoint(done)  # nothing computed twice
    assert sum(len(ids) for ids, _ in counted["calls"]) == 2 and again["settings"]["resumed"] == 4
    assert without_time(again["predictions"]) == without_time(whole["predictions"])
    assert again["overall"][1]["score"] == whole["overall"][1]["score"]

    counted["calls"].clear()
    more = run(journal, keep=(0.5, 0.2))  # a keep ratio added: only its cells are computed
    assert {s for _, s in counted["calls"]} == {Setting("frame", 0.2)} and len(more["predictions"]) == 9
    counted["calls"].clear()
    assert len(run(journal)["predictions"]) == 6 and counted["calls"] == []  # all done: nothing computed

    with journal.open("a") as f:
        f.write('{"id": "pitch-0", "meth')  # a run killed while writing a line
    assert len(run(journal)["predictions"]) == 6 and journal.read_text().endswith("}\n")
    with pytest.raises(ValueError, match="holds answers of other settings \\(max_new_tokens differ\\)"):
        evaluate(
            standin["model"],
            standin["processor"],
            items,
            ["frame"],
            [0.5],
            max_new_tokens=1,
            journal=journal,
            progress=False,
        )


def test_a_journal_of_other_weights_is_refused_and_one_without_a_fingerprint_resumes(standin, tmp_path, caplog):
    model = standin["model"]
    items = load_items(standin["root"] / "items.jsonl")[:1]
    journal = tmp_path / "progress.jsonl"

    def run():
        return evaluate(model, standin["processor"], items, ["frame"], [0.5], max_new_tokens=TOKENS,
                        journal=journal, progress=False)  # fmt: skip

    first = run()
    assert first["settings"]["model_weights"] == weights_fingerprint(model) and len(first["predictions"]) == 2
    parameter = max(model.named_parameters(), key=lambda pair: pair[0])[1]
    saved = parameter.detach().clone()
    try:
        with torch.no_grad():
            parameter.view(-1)[-1] += 1.0  # a "retrained" model at the same path (last values are sampled)
        assert weights_fingerprint(model) != first["settings"]["model_weights"]
        with pytest.raises(ValueError, match=r"holds answers of other settings \(model_weights differ\)"):
            run()
    finally:
        with torch.no_grad():
            parameter.copy_(saved)
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    del lines[0]["settings"]["model_weights"]  # a journal from before the fingerprint existed
    journal.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with caplog.at_level(logging.WARNING, logger="headrouter"):
        again = run()
    assert again["settings"]["resumed"] == 2 and "without a fingerprint of the model's weights" in caplog.text


def test_eval_command_on_a_benchmark_resumes_and_prints_the_paper_table(standin, tmp_path, capsys):
    from test_benchmark_loaders import write_mmau

    data = write_mmau(tmp_path / "mmau").parent
    out = tmp_path / "out"
    argv = [
        "eval",
        "--model",
        str(standin["model_dir"]),
        "--benchmark",
        "mmau",
        "--data",
        str(data),
        "--methods",
        "frame",
        "--keep",
        "0.5",
        "--max-new-tokens",
        "2",
        "--out",
        str(out),
        "--no-progress",
        "--no-plot",
    ]
    assert cli.main([*argv, "--limit", "2"]) == 0
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "3 of 3 items evaluated, 0 skipped; 4 answers read back from" in printed
    assert "| method | keep | sound | music | speech | acoustic (mean) | semantic (mean) | average |" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["benchmark"] == "mmau" and results["paper_table"]["rows"][0]["method"] == "frame"
    assert {r["task"] for r in results["tasks"]} == {"sound", "music", "speech"}
    assert all(json.loads(line).get("metric", "mmau") == "mmau" for line in (out / "progress.jsonl").open())
    argv[argv.index("--benchmark") + 1] = "audiomarathon"
    assert cli.main(argv) == 2
    assert "no AudioMarathon task found under" in capsys.readouterr().err


def test_plot_is_written(results, tmp_path):
    pytest.importorskip("matplotlib")
    paths = write_report(results, tmp_path)
    assert paths["plot"].stat().st_size > 1000


# ---------------------------------------------------------------------- inputs


def test_inputs_equal_processor_inputs_and_keep_long_audio(standin):
    processor = standin["processor"]
    wav = tiny.tone(2.0)
    mine, theirs = build_inputs(processor, [wav], ["Which note?"]), processor_inputs(processor, wav, "Which note?")
    assert set(mine) == set(theirs)
    for key in theirs:
        assert torch.equal(mine[key], theirs[key]), key
    long = tiny.tone(40.0)
    audio = tiny.AUDIO_TOKEN
    assert int((build_inputs(processor, [long], ["?"])["input_ids"] == audio).sum()) == 1000
    assert int((build_inputs(processor, [long], ["?"], truncate_audio=True)["input_ids"] == audio).sum()) == 750
    batch = build_inputs(processor, [long, wav], ["?", "Which note?"])
    assert (batch["input_ids"] == audio).sum(-1).tolist() == [1000, 50]
    assert batch["attention_mask"][:, -1].all()  # left-padded


# ---------------------------------------------------------------------- scoring by hand


def item(metric: str, answer: str, choices=None) -> Item:
    return Item("x", "x.wav", "?", answer, "t", "acoustic", metric, choices)


def test_choice_scoring():
    pitch = item("choice", "E", ["C", "D", "E", "F"])
    assert score(pitch, "E") == 1.0
    assert score(pitch, " e. ") == 1.0  # case, punctuation and spaces do not matter
    assert score(pitch, "The note is E") == 1.0  # names the right choice and no other
    assert score(pitch, "E or F") == 0.0  # names two choices
    assert score(pitch, "D") == 0.0
    assert score(pitch, "") == 0.0
    assert score(pitch, "Every") == 0.0  # a choice inside a word does not count
    chord = item("choice", "minor", ["major", "minor"])
    assert score(chord, "Minor.") == 1.0 and score(chord, "major") == 0.0


def test_exact_scoring():
    digits = item("exact", "4 7 1")
    assert score(digits, "4 7 1") == 1.0
    assert score(digits, "4, 7, 1.") == 1.0
    assert score(digits, "4 7") == 0.0
    assert score(item("exact", "C#"), "c#") == 1.0  # '#' survives normalisation


def test_wer_by_hand():
    ref = "one two three four"
    assert word_error_rate(ref, "one two three four") == 0.0
    assert word_error_rate(ref, "one too three") == 2 / 4  # one substitution, one deletion
    assert word_error_rate(ref, "one two three four five") == 1 / 4  # one insertion
    assert word_error_rate(ref, "") == 1.0  # four deletions
    assert word_error_rate(ref, "four three two one") == 4 / 4  # four substitutions
    assert word_error_rate("a b", "x y z w v") == 5 / 2  # can exceed 1
    assert word_error_rate("One, two!", "one two") == 0.0
    transcript = item("wer", ref)
    assert score(transcript, "one too three") == 0.5
    assert item_score(transcript, "one too three") == (0.5, 0.5)
    assert item_score(item("wer", "a b"), "x y z w v") == (0.0, 2.5)  # the score is 1 - WER, floored at 0
    assert item_score(item("exact", "yes"), "Yes.") == (1.0, 1.0)


def test_empty_unreadable_and_too_short_clips_are_skipped_with_their_reason(standin, tmp_path, caplog):
    import wave

    with wave.open(str(tmp_path / "empty.wav"), "wb") as f:  # a valid header, no frames
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(RATE)
    (tmp_path / "text.wav").write_text("not audio")
    soundfile.write(tmp_path / "blip.wav", tiny.tone(1.0)[:160], RATE)  # 10 ms: no audio token
    soundfile.write(tmp_path / "good.wav", tiny.tone(1.0), RATE)
    items = [
        Item(name, str(tmp_path / f"{name}.wav"), "Which word?", "yes", "word", "semantic")
        for name in ("empty", "text", "blip", "good")
    ]
    with caplog.at_level(logging.WARNING, logger="headrouter"):
        out = evaluate(
            standin["model"], standin["processor"], items, ["frame"], [0.5], max_new_tokens=1, progress=False
        )
    assert out["counts"] == {"items": 4, "evaluated": 1, "skipped": 3}
    assert {r["id"] for r in out["predictions"]} == {"good"}
    errors = {s["id"]: s["error"] for s in out["skipped"]}
    cannot = f"ValueError: cannot load audio {tmp_path}"
    assert errors["empty"] == f"{cannot}/empty.wav: the file holds no audio samples (a header and no data)"
    assert errors["text"].startswith(f"{cannot}/text.wav: not a readable audio file (")
    assert errors["blip"] == (
        "ValueError: 0.010 s of audio make 0 audio tokens: the clip is too short for the model's audio tokenizer"
    )
    for name in ("empty", "text", "blip"):
        assert f"evaluate: skipping item {name} ({tmp_path / name}.wav): {errors[name]}" in caplog.text


@pytest.mark.parametrize(
    ("methods", "keep_ratios", "error", "message"),
    [
        (["fastv"], ["0.5"], TypeError, "keep_ratios must be numbers in (0, 1], got str '0.5'"),
        (["fastv"], [True], TypeError, "keep_ratios must be numbers in (0, 1], got bool True"),
        (["fastv"], 0.5, TypeError, "keep_ratios must be a list of numbers in (0, 1], got float"),
        (["fastv"], "0.5", TypeError, "keep_ratios must be a list of numbers in (0, 1], got str"),
        (["fastv"], [float("nan")], ValueError, "keep ratios must be in (0, 1], got [nan]"),
        ("fastv", [0.5], TypeError, "methods must be a list of method names, got str 'fastv'"),
        ([None], [0.5], TypeError, "methods must be method names (str), got NoneType None"),
        (["fastv", "fastw"], [0.5], ValueError, "unknown method 'fastw' in methods; known methods: dart, fastv"),
    ],
)
def test_methods_and_keep_ratios_are_checked_before_the_model(standin, methods, keep_ratios, error, message):
    items = load_items(standin["root"] / "items.jsonl")
    with pytest.raises(error) as raised:  # a Linear is no model: these must fail before it is looked at
        evaluate(torch.nn.Linear(1, 1), None, items, methods, keep_ratios, progress=False)
    assert str(raised.value).startswith(message)
