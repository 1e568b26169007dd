"""The adapter contract: what the engine asks of a model family, and loading a checkpoint by its family."""

from __future__ import annotations

import json

import pytest
import torch

import headrouter
from headrouter.adapters import Qwen2_5OmniAdapter, adapter_class_for_checkpoint, adapter_for
from headrouter.adapters.qwen2_5_omni import tiny
from headrouter.evaluation.demo import SHIPPED_MODEL


def test_the_qwen_adapter_answers_the_contract(models, batch):
    model = models["eager"]
    adapter = adapter_for(model)
    assert isinstance(adapter, Qwen2_5OmniAdapter)
    assert torch.equal(adapter.audio_mask(batch["input_ids"]), batch["input_ids"] == tiny.AUDIO_TOKEN)
    attention = adapter.attention(adapter.layers[1])
    assert adapter.attention_scaling(attention) == attention.head_dim**-0.5
    assert {adapter.layer_type(i) for i in range(adapter.num_layers)} == {"full_attention"}
    # layer K's keys before rotary, as the layer computes them: its input norm, then k_proj
    hidden = torch.randn(2, 5, model.config.text_config.hidden_size)
    layer = adapter.layers[2]
    expected = layer.self_attn.k_proj(layer.input_layernorm(hidden))
    assert torch.equal(adapter.key_projection(2)(hidden), expected)


@pytest.mark.parametrize(
    "kind,match",
    [("chunked_attention", r"layers \[3\] of this model use chunked_attention"),
     ("sliding_attention", r"layers \[3\] of this model use sliding_attention, but its decoder config names no")],
)  # fmt: skip
def test_pruning_before_layers_the_engine_cannot_mask_is_refused(kind, match):
    """Sliding-window layers after K are pruned (tests/test_engine_sliding.py), given their window; other kinds not."""
    model = tiny.tiny_model()
    model.config.text_config.layer_types = ["full_attention", "full_attention", "full_attention", kind]
    model.config.text_config.sliding_window = None
    with pytest.raises(ValueError, match=match):
        headrouter.wrap(model, keep_ratio=0.5, prune_layer=2)
    assert not hasattr(model, "headrouter")


def test_checkpoints_load_by_their_family(tmp_path):
    assert adapter_class_for_checkpoint(SHIPPED_MODEL) is Qwen2_5OmniAdapter
    model = headrouter.load_model(SHIPPED_MODEL, dtype="float32")
    assert type(model).__name__ == "Qwen2_5OmniThinkerForConditionalGeneration" and not model.training
    with pytest.raises(FileNotFoundError, match="config.json"):
        headrouter.load_model(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    with pytest.raises(ValueError, match="cannot prune LlamaForCausalLM; supported models: Qwen2_5Omni"):
        headrouter.load_processor(tmp_path)


# ---------------------------------------------------------------------- benchmarking: random models, prompts, ids


@pytest.mark.parametrize("shape", sorted(Qwen2_5OmniAdapter.published_shapes))
def test_random_models_have_the_published_widths(shape):
    widths = Qwen2_5OmniAdapter.published_shapes[shape]
    with torch.device("meta"):  # the widths, not the weights
        model = Qwen2_5OmniAdapter.random_model(shape, num_layers=3, dtype=torch.bfloat16)
    adapter = adapter_for(model)
    assert adapter.forward_module is model and not model.training and model.dtype == torch.bfloat16
    config = adapter.text_config
    assert adapter.num_layers == config.num_hidden_layers == 3
    for name in ("hidden_size", "num_attention_heads", "num_key_value_heads", "intermediate_size"):
        assert getattr(config, name) == widths[name], name
    assert config.rope_parameters["rope_theta"] == widths["rope_theta"]
    assert config.rope_parameters["mrope_section"] == widths["mrope_section"]
    attention, head_dim = adapter.attention(adapter.layers[0]), 128
    assert attention.q_proj.weight.shape == (widths["num_attention_heads"] * head_dim, widths["hidden_size"])
    assert attention.k_proj.weight.shape == (widths["num_key_value_heads"] * head_dim, widths["hidden_size"])
    assert adapter.layers[0].mlp.gate_proj.weight.shape == (widths["intermediate_size"], widths["hidden_size"])
    assert adapter.special_token_ids() == sorted(tiny.SPECIAL_TOKENS)  # the tiny models' ids


def test_published_shapes_of_qwen2_5_omni():
    shapes = Qwen2_5OmniAdapter.published_shapes
    assert list(shapes) == ["3B", "7B"]  # the first is the benchmark's default
    keys = ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size")
    assert tuple(shapes["3B"][k] for k in keys) == (2048, 36, 16, 2, 11008)
    assert tuple(shapes["7B"][k] for k in keys) == (3584, 28, 28, 4, 18944)
    with pytest.raises(ValueError, match="no published shape '1B'"):
        Qwen2_5OmniAdapter.random_model("1B", num_layers=2)


def test_random_model_from_a_config_file(tmp_path):
    path = tmp_path / "thinker.json"
    tiny.tiny_thinker_config(num_layers=3).to_json_file(path)
    model = Qwen2_5OmniAdapter.random_model_from_config(path, attn_implementation="eager")
    assert type(model).__name__ == "Qwen2_5OmniThinkerForConditionalGeneration" and not model.training
    assert adapter_for(model).num_layers == 3 and model.config.text_config.hidden_size == 64
    full = tmp_path / "full.json"  # a full Qwen2.5-Omni config holds the thinker's
    full.write_text(json.dumps({"thinker_config": json.loads(path.read_text())}))
    assert adapter_for(Qwen2_5OmniAdapter.random_model_from_config(full)).num_layers == 3


def test_placeholder_prompt_layout(models):
    adapter = adapter_for(models["sdpa"])
    assert adapter.special_token_ids() == sorted(tiny.SPECIAL_TOKENS)
    inputs = adapter.placeholder_prompt(7, text_before=4, text_after=16, seed=3)
    ids = inputs["input_ids"][0].tolist()
    assert inputs["input_ids"].shape == (1, 4 + 1 + 7 + 1 + 16) and torch.equal(
        inputs["attention_mask"], torch.ones_like(inputs["input_ids"])
    )
    assert ids[4:13] == [tiny.AUDIO_BOS] + [tiny.AUDIO_TOKEN] * 7 + [tiny.AUDIO_EOS]
    text = ids[:4] + ids[13:]
    assert not set(text) & set(tiny.SPECIAL_TOKENS)
    assert int(adapter.audio_mask(inputs["input_ids"]).sum()) == 7
    again = adapter.placeholder_prompt(7, text_before=4, text_after=16, seed=3)["input_ids"]
    assert torch.equal(again, inputs["input_ids"])
    # the benchmark's committed prompts: these ids for seed 0 and 7 placeholders
    assert adapter.placeholder_prompt(7, text_before=4, text_after=16)["input_ids"][0].tolist() == [
        206, 249, 79, 202, 253, *[250] * 7, 254, 29, 149, 205, 121, 59, 205, 79, 132, 142, 57, 72, 234, 34, 70, 244, 91,
    ]  # fmt: skip
