"""Method specs in evaluation: the spec syntax, oracle routing (each item's own task type as HeadRouter's ``task``,
also in a batch of mixed task types), and ``segment[inner=headrouter]`` with the run's table, from Python and from
``headrouter eval --methods``."""

from __future__ import annotations

import json
import re

import pytest
from test_evaluation import RATE, build_standin, standin_items

import headrouter
from headrouter import cli
from headrouter.adapters.qwen2_5_omni import loading, tiny
from headrouter.evaluation.arguments import method_runs
from headrouter.evaluation.runner import evaluate, load_items
from headrouter.evaluation.tasks.items import write_items
from headrouter.methods import HeadRouterMethod, SegmentTopK, get_method
from headrouter.methods.base import parse_spec, split_specs

TOKENS = 3
KEEP = 0.3


@pytest.fixture(scope="module")
def ground(tmp_path_factory):
    """The stand-in checkpoint, 6 items of two task types (acoustic, semantic, semantic, ...) and a head table of those
    two task types calibrated on it."""
    root = tmp_path_factory.mktemp("oracle")
    model_dir = build_standin(root)
    write_items(standin_items(root, n=6, missing=None), root / "items.jsonl")
    items = load_items(root / "items.jsonl")
    model, processor = loading.load_model(model_dir), loading.load_processor(model_dir)
    samples = [
        headrouter.CalibrationSample(tiny.tone(1.0), "Which note?", "acoustic", RATE),
        headrouter.CalibrationSample(tiny.tone(2.0, 300.0), "What was said?", "semantic", RATE),
        headrouter.CalibrationSample(tiny.tone(1.5, 500.0, seed=3), "Which note is it?", "acoustic", RATE),
        headrouter.CalibrationSample(tiny.tone(2.5, 200.0, seed=4), "Say the words.", "semantic", RATE),
    ]
    table_dir = root / "table"
    headrouter.calibrate(model, processor, samples, progress=False).save_pretrained(table_dir)
    return {"root": root, "model_dir": model_dir, "model": model, "processor": processor, "items": items,
            "table": table_dir}  # fmt: skip


def run(ground, methods, **kwargs):
    kwargs = {"table": ground["table"], "max_new_tokens": TOKENS, "progress": False, **kwargs}
    return evaluate(ground["model"], ground["processor"], ground["items"], methods, [KEEP], **kwargs)


def test_spec_syntax():
    assert parse_spec("fastv") == ("fastv", {})
    assert parse_spec(" headrouter[oracle] ") == ("headrouter", {"oracle": True})
    assert parse_spec("segment[inner=headrouter[smooth=0.25,task=semantic], segments=4]") == (
        "segment",
        {"inner": "headrouter[smooth=0.25,task=semantic]", "segments": 4},
    )
    assert parse_spec("x[a=none,b=true,c=False,d=1.5,e=abc,f=-2]") == (
        "x",
        {"a": None, "b": True, "c": False, "d": 1.5, "e": "abc", "f": -2},
    )
    assert split_specs("fastv, segment[inner=headrouter,segments=4],headrouter[oracle]") == [
        "fastv",
        "segment[inner=headrouter,segments=4]",
        "headrouter[oracle]",
    ]
    for bad in ("fastv[", "fastv]", "[a=1]", "fastv[a=]", "fastv[a=1,a=2]", "fastv[]", "fastv[a=[b]", "f[1x=2]"):
        with pytest.raises(ValueError, match=re.escape(f"method spec {bad!r}")):
            parse_spec(bad)


def test_specs_make_their_methods_and_records(tmp_path):
    runs, configs = method_runs(["segment[inner=headrouter[smooth=0.25],segments=4]", "headrouter[oracle]"])
    segment = runs["segment[inner=headrouter[smooth=0.25],segments=4]"].method
    assert segment == SegmentTopK(segments=4, inner=HeadRouterMethod(smooth=0.25))
    assert configs["headrouter[oracle]"] == {**get_method("headrouter").config(), "oracle": True}
    with pytest.raises(ValueError, match="oracle routing needs a method with a task setting"):
        method_runs(["fastv[oracle]"])
    with pytest.raises(ValueError, match="oracle takes no value"):
        method_runs(["headrouter[oracle=semantic]"])
    with pytest.raises(TypeError, match="unknown setting\\(s\\) segmnets for method 'segment'"):
        method_runs(["segment[segmnets=3]"])


def test_oracle_routing_in_a_mixed_batch_equals_each_item_alone_with_its_own_task(ground):
    types = [item.task_type for item in ground["items"]]
    assert set(types) == {"acoustic", "semantic"}
    batched = run(ground, ["headrouter[oracle]", "headrouter"], batch_size=6)
    alone = run(ground, ["headrouter[task=acoustic]", "headrouter[task=semantic]"], batch_size=1)
    by_cell = {(r["id"], r["method"]): r for r in alone["predictions"]}
    oracle = [r for r in batched["predictions"] if r["method"] == "headrouter[oracle]"]
    assert len(oracle) == 6
    for row in oracle:
        ref = by_cell[row["id"], f"headrouter[task={row['task_type']}]"]
        assert (row["prediction"], row["audio_tokens_after"], row["details"]) == (
            ref["prediction"],
            ref["audio_tokens_after"],
            ref["details"],
        )
        other = "semantic" if row["task_type"] == "acoustic" else "acoustic"
        assert row["details"]["task_mixture"] == {row["task_type"]: 1.0, other: 0.0}  # one-hot on its own type
    routed = [r for r in batched["predictions"] if r["method"] == "headrouter"]
    assert any(0.0 < share < 1.0 for r in routed for share in r["details"]["task_mixture"].values())  # soft routing
    own = [r["routed_to_own_type"] for r in batched["overall"] if r["method"] == "headrouter[oracle]"]
    assert own == [1.0]
    settings = batched["settings"]["method_settings"]
    assert settings["headrouter[oracle]"] == {**get_method("headrouter").config(), "oracle": True}


def test_oracle_routing_needs_a_table_of_the_items_task_types(ground, tmp_path):
    with pytest.raises(ValueError, match="task='acoustic' names a task type of a head table, and no table was given"):
        run(ground, ["headrouter[oracle]"], table=None)
    samples = [headrouter.CalibrationSample(tiny.tone(1.0), "Which note?", "music", RATE)]
    headrouter.calibrate(
        ground["model"], ground["processor"], samples, tasks=["music"], progress=False
    ).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"task must be one of \['auto', 'music'\]"):
        run(ground, ["headrouter[oracle]"], table=tmp_path)


def test_segment_with_headrouter_inside_takes_the_run_table(ground):
    out = run(ground, ["segment[inner=headrouter]", f"segment[inner=headrouter[table={ground['table']}]]"])
    rows = {}
    for row in out["predictions"]:
        if row["method"] != "none":
            rows.setdefault("table=" in row["method"], {})[row["id"]] = row
    assert set(rows) == {False, True}
    for item_id, row in rows[False].items():
        assert set(row["details"]["task_mixture"]) == {"acoustic", "semantic"}  # the table reached the inner method
        ref = rows[True][item_id]
        assert (row["prediction"], row["audio_tokens_after"], row["details"]) == (
            ref["prediction"],
            ref["audio_tokens_after"],
            ref["details"],
        )
    expected = {"name": "segment", "segments": 10, "inner": get_method("headrouter").config()}
    assert out["settings"]["method_settings"]["segment[inner=headrouter]"] == expected


def test_eval_command_takes_method_specs(ground, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["eval", "--model", str(ground["model_dir"]), "--data", str(ground["root"] / "items.jsonl"), "--methods",
            "segment[inner=headrouter],headrouter[oracle],fastv[smooth=0.25]", "--keep", "0.5", "--table",
            str(ground["table"]), "--limit", "2", "--max-new-tokens", "2", "--out", str(out), "--no-progress",
            "--no-plot"]  # fmt: skip
    assert cli.main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    methods = ["segment[inner=headrouter]", "headrouter[oracle]", "fastv[smooth=0.25]"]
    assert results["settings"]["methods"] == methods
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    assert {r["method"] for r in predictions} == {"none", *methods}
    assert all("task_mixture" in r["details"] for r in predictions if r["method"] in methods[:2])
    argv[argv.index("--methods") + 1] = "fastv[smooth=2]"
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    assert "argument --methods: smooth must be None (off)" in capsys.readouterr().err
