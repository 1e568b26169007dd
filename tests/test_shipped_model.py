"""The shipped proving-ground model: loads offline and answers the shipped demo clips correctly, unpruned."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import headrouter
from headrouter import cli
from headrouter.adapters.chat_inputs import processor_inputs
from headrouter.adapters.qwen2_5_omni.loading import load_model, load_processor
from headrouter.evaluation.tasks import format_prompt, read_items, score
from headrouter.evaluation.tasks.synth import read_wav
from headrouter.methods.headrouter.table import HeadTable, config_hash

ASSETS = Path(headrouter.__file__).parent / "assets"
MODEL = ASSETS / "proving_ground"
DEMO = ASSETS / "demo"
TABLE = ASSETS / "head_table"


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        mp.setenv("HF_HOME", str(tmp_path_factory.mktemp("empty_hf_home")))  # nothing cached to fall back on
        return load_model(MODEL, dtype="float32"), load_processor(MODEL)


def test_shipped_files_are_small_and_complete():
    names = {p.name for p in MODEL.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "processor_config.json"} <= names, names
    assert sum(p.stat().st_size for p in MODEL.rglob("*") if p.is_file()) <= 15e6
    assert sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file()) <= 6e6  # 4 clips of 30-40 s, 8 short
    assert sum(p.stat().st_size for p in ASSETS.rglob("*") if p.is_file()) <= 20e6  # all shipped assets


def test_model_is_the_qwen2_5_omni_thinker(shipped):
    model, processor = shipped
    assert type(model).__name__ == "Qwen2_5OmniThinkerForConditionalGeneration"
    assert type(processor).__name__ == "Qwen2_5OmniProcessor"
    assert model.config.text_config.vocab_size == len(processor.tokenizer) == 256


def test_demo_clips_cover_both_families_and_open_with_long_clips():
    items = read_items(DEMO / "items.jsonl")
    assert {i.task_type for i in items} == {"semantic", "acoustic"}
    assert all(Path(i.audio).is_file() for i in items)
    long = [i for i in items if i.extra["seconds"] >= 30]
    assert items[: len(long)] == long and {i.task_type for i in long} == {"semantic", "acoustic"}
    assert all(abs(len(read_wav(i.audio)) / 16000 - i.extra["seconds"]) <= 0.005 for i in items)


def test_demo_names_the_picture_of_its_longest_clip(capsys):
    methods = "fastv,headrouter[diversity=0.5]"
    assert cli.main(["demo", "--limit", "1", "--methods", methods, "--keep", "0.3", "--max-new-tokens", "8"]) == 0
    first = read_items(DEMO / "items.jsonl")[0]
    # quoted: a shell would read the brackets as a pattern
    assert f"headrouter show {first.id} --methods '{methods}' --keep 0.3 --out kept.png" in capsys.readouterr().out


def test_answers_demo_clips_unpruned(shipped):
    model, processor = shipped
    items = read_items(DEMO / "items.jsonl")
    for item in items:
        inputs = processor_inputs(processor, read_wav(item.audio), format_prompt(item))
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=10, do_sample=False)
        said = processor.tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        assert score(item, said) == (0.0 if item.metric == "wer" else 1.0), (item.id, item.answer, said)


def test_shipped_head_table_is_for_the_shipped_model(shipped):
    model, _ = shipped
    table = HeadTable.from_pretrained(TABLE)
    text_config = model.config.text_config
    table.check_shape(text_config.num_hidden_layers, text_config.num_attention_heads)
    assert table.meta["config_hash"] == config_hash(text_config)
    assert set(table.tasks) == {"semantic", "acoustic"}
    assert min(table.meta["calibration_counts"].values()) >= 10 and table.meta["failed_samples"] == 0
