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


def test_pruning_before_sliding_window_layers_is_refused():
    model = tiny.tiny_model()
    model.config.text_config.layer_types = ["full_attention", "full_attention", "full_attention", "sliding_attention"]
    with pytest.raises(ValueError, match=r"layers \[3\].*sliding_attention"):
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
