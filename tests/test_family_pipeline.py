"""Calibration and evaluation end to end on every family that has a tiny processor: its tiny model and real processor
saved as a checkpoint, then ``headrouter calibrate``, ``inspect`` and ``eval`` through the command line, and
``headrouter.calibrate`` -> ``wrap(method="headrouter", table=...)`` -> ``generate`` through the library. A family
joins with one line in :data:`FAMILIES`: its name and its tiny module (``tiny_model``, ``tiny_processor``, ``tone``,
``audio_prompt``, ``encode``)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from types import ModuleType

import pytest
import torch

import headrouter
from headrouter import cli
from headrouter.adapters import adapter_class_for_checkpoint, adapter_for, load_model, load_processor
from headrouter.adapters.audio_flamingo3 import tiny as audio_flamingo3
from headrouter.adapters.gemma3n import tiny as gemma3n
from headrouter.adapters.musicflamingo import tiny as musicflamingo
from headrouter.adapters.phi4_multimodal import tiny as phi4_multimodal
from headrouter.adapters.qwen2_5_omni import tiny as qwen2_5_omni
from headrouter.adapters.qwen2_audio import tiny as qwen2_audio
from headrouter.adapters.qwen3_omni_moe import tiny as qwen3_omni_moe
from headrouter.adapters.voxtral import tiny as voxtral
from headrouter.evaluation.tasks import generate
from headrouter.methods.headrouter.samples import load_samples

METHODS = ("fastv", "headrouter")
KEEP = (0.5, 0.3)
TASKS = ("pitch_class", "noise_colour", "beep_count")  # no speech: espeak-ng is not needed


@dataclass(frozen=True)
class Family:
    name: str
    tiny: ModuleType


FAMILIES = [
    Family("qwen2_5_omni", qwen2_5_omni),
    Family("qwen2_audio", qwen2_audio),
    Family("audio_flamingo3", audio_flamingo3),
    Family("musicflamingo", musicflamingo),
    Family("qwen3_omni_moe", qwen3_omni_moe),
    Family("voxtral", voxtral),
    Family("phi4_multimodal", phi4_multimodal),
    Family("gemma3n", gemma3n),
]


@pytest.fixture(scope="module", params=FAMILIES, ids=lambda f: f.name)
def family(request):
    return request.param


@pytest.fixture(scope="module")
def checkpoint(family, tmp_path_factory):
    """The family's tiny model and processor saved with save_pretrained, and 3 seeded synthetic items of 2-3 s."""
    root = tmp_path_factory.mktemp(family.name)
    family.tiny.tiny_model().save_pretrained(root / "model")
    family.tiny.tiny_processor().save_pretrained(root / "model")
    items = generate(root / "data", per_task=1, seed=0, tasks=TASKS, max_seconds=3.0, long_fraction=0.0, progress=False)
    return {"root": root, "model": str(root / "model"), "data": str(root / "data" / "items.jsonl"), "items": items}


@pytest.fixture(scope="module")
def loaded(checkpoint):
    """The checkpoint's model and processor, loaded by family from its config.json."""
    return load_model(checkpoint["model"]), load_processor(checkpoint["model"])


def clips(tiny) -> list:
    return [tiny.tone(2.0, 440.0, seed=1), tiny.tone(1.2, 300.0, seed=2)]


def test_checkpoint_loads_as_its_family(family, checkpoint, loaded):
    model, processor = loaded
    adapter = adapter_for(model)
    assert adapter_class_for_checkpoint(checkpoint["model"]) is type(adapter)
    assert type(processor) is type(family.tiny.tiny_processor())
    assert processor.chat_template == family.tiny.tiny_processor().chat_template


def test_processor_inputs_match_the_tiny_layout_and_run(family, loaded):
    model, processor = loaded
    adapter = adapter_for(model)
    wavs = clips(family.tiny)
    inputs = adapter.build_inputs(processor, wavs, ["Which note is played?", "What is it?"])
    encoded = family.tiny.encode([family.tiny.audio_prompt([w]) for w in wavs])
    counts = adapter.audio_mask(inputs["input_ids"]).sum(-1)
    assert counts.tolist() == adapter.audio_mask(encoded["input_ids"]).sum(-1).tolist()
    assert bool((counts > 0).all())
    with torch.no_grad():
        logits = adapter.forward_module(**inputs).logits
    assert logits.shape[:2] == inputs["input_ids"].shape and bool(torch.isfinite(logits).all())


def test_processor_round_trips_through_the_adapter(family, loaded, tmp_path):
    model, _ = loaded
    adapter = adapter_for(model)
    processor = family.tiny.tiny_processor()
    processor.save_pretrained(tmp_path)
    reloaded = type(adapter).load_processor(tmp_path)
    assert type(reloaded) is type(processor)
    assert reloaded.tokenizer.get_vocab() == processor.tokenizer.get_vocab()
    wavs = clips(family.tiny)
    before = adapter.build_inputs(processor, wavs, ["a?", "bc"])
    after = adapter.build_inputs(reloaded, wavs, ["a?", "bc"])
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_calibrate_inspect_and_eval_through_the_command_line(checkpoint, loaded, capsys):
    model, _ = loaded
    adapter = adapter_for(model)
    root, table_dir = checkpoint["root"], checkpoint["root"] / "table"
    argv = ["calibrate", "--model", checkpoint["model"], "--data", checkpoint["data"], "--out", str(table_dir)]
    assert cli.main([*argv, "--tasks", "acoustic"]) == 0
    assert "calibrated on acoustic: 3 (0 failed)" in capsys.readouterr().out
    table = headrouter.HeadTable.from_pretrained(table_dir)
    assert (table.num_layers, table.num_heads) == (adapter.num_layers, adapter.num_heads)
    assert table.weights["acoustic"].shape == (adapter.num_layers, adapter.num_heads)
    assert table.meta["model_class"] == type(model).__name__

    assert cli.main(["inspect", str(table_dir), "--out", str(root / "heads.png")]) == 0
    assert (root / "heads.png").stat().st_size > 1000

    out = root / "eval"
    argv = ["eval", "--model", checkpoint["model"], "--data", checkpoint["data"], "--table", str(table_dir)]
    argv += ["--methods", ",".join(METHODS), "--keep", ",".join(map(str, KEEP)), "--max-new-tokens", "2"]
    assert cli.main([*argv, "--out", str(out), "--no-progress", "--no-plot"]) == 0
    assert "3 of 3 items evaluated, 0 skipped" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["model_class"] == type(model).__name__
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    settings = [("none", None)] + [(m, k) for m in METHODS for k in KEEP]
    assert sorted((r["id"], r["method"], r["keep_ratio"]) for r in rows) == sorted(
        (item.id, m, k) for item in checkpoint["items"] for m, k in settings
    )
    for row in rows:
        before, after = row["audio_tokens_before"], row["audio_tokens_after"]
        assert before > 1
        if row["method"] == "none":
            assert after == before
        else:
            assert after == math.ceil(round(row["keep_ratio"] * before, 9)) < before, row
    routed = [r for r in rows if r["method"] == "headrouter"]
    assert all(set(r["details"]["task_mixture"]) == {"acoustic"} for r in routed)


def test_calibrate_wrap_generate(family, checkpoint, loaded):
    model, processor = loaded
    adapter = adapter_for(model)
    samples = load_samples(checkpoint["data"])
    table = headrouter.calibrate(model, processor, samples, tasks=["acoustic"], progress=False)
    assert table.weights["acoustic"].shape == (adapter.num_layers, adapter.num_heads)
    inputs = adapter.build_inputs(processor, clips(family.tiny), ["Which note is played?", "What is it?"])
    audio = adapter.audio_mask(inputs["input_ids"]).sum(-1).tolist()
    generator = adapter.forward_module
    headrouter.wrap(model, keep_ratio=0.5, method="headrouter", table=table)
    try:
        with torch.no_grad():
            out = generator.generate(**inputs, max_new_tokens=4, do_sample=False)
        records = list(model.headrouter.records)
    finally:
        headrouter.unwrap(model)
    assert out.shape == (2, inputs["input_ids"].shape[1] + 4)
    assert [r.audio_tokens_after for r in records] == [math.ceil(n / 2) for n in audio]
    assert all(r.method == "headrouter" and set(r.details["task_mixture"]) == {"acoustic"} for r in records)
