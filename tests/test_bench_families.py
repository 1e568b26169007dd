"""The benchmarking section of every family that has one (tests/test_bench.py runs the benchmark itself on
Qwen2.5-Omni): built-in models at the published widths, models from a config file, the placeholder prompt laid out as
the family's processor lays out one clip, the special ids, and ``headrouter bench`` on a tiny config of the family. A
family joins with one line in :data:`FAMILIES`."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import pytest
import torch

import headrouter
from headrouter import bench
from headrouter.adapters import (
    AudioFlamingo3Adapter,
    Gemma3nAdapter,
    ModelAdapter,
    MusicFlamingoAdapter,
    Phi4MultimodalAdapter,
    Qwen2_5OmniAdapter,
    Qwen2AudioAdapter,
    Qwen3OmniMoeAdapter,
    VoxtralAdapter,
    adapter_for,
)
from headrouter.adapters.audio_flamingo3 import tiny as audio_flamingo3
from headrouter.adapters.gemma3n import tiny as gemma3n
from headrouter.adapters.musicflamingo import tiny as musicflamingo
from headrouter.adapters.phi4_multimodal import tiny as phi4_multimodal
from headrouter.adapters.qwen2_5_omni import tiny as qwen2_5_omni
from headrouter.adapters.qwen2_audio import tiny as qwen2_audio
from headrouter.adapters.qwen3_omni_moe import tiny as qwen3_omni_moe
from headrouter.adapters.voxtral import tiny as voxtral
from headrouter.bench import flops


@dataclass(frozen=True)
class Family:
    adapter: type[ModelAdapter]
    tiny: ModuleType
    tiny_config: Callable
    """The tiny module's config builder (``num_layers=``): the config file a model is built from."""
    first_shape: tuple[str, int, int, int, int, int, int]
    """The default published shape, written out: name, hidden size, layers, query heads, KV heads, head dim, and the
    MLP width a token runs through (a mixture's experts per token times their width)."""


FAMILIES = [
    Family(Qwen2_5OmniAdapter, qwen2_5_omni, qwen2_5_omni.tiny_thinker_config, ("3B", 2048, 36, 16, 2, 128, 11008)),
    Family(Qwen2AudioAdapter, qwen2_audio, qwen2_audio.tiny_config, ("7B", 4096, 32, 32, 32, 128, 11008)),
    Family(AudioFlamingo3Adapter, audio_flamingo3, audio_flamingo3.tiny_config, ("7B", 3584, 28, 28, 4, 128, 18944)),
    Family(MusicFlamingoAdapter, musicflamingo, musicflamingo.tiny_config, ("8B", 3584, 28, 28, 4, 128, 18944)),
    Family(
        Qwen3OmniMoeAdapter, qwen3_omni_moe, qwen3_omni_moe.tiny_thinker_config,
        ("30B-A3B", 2048, 48, 32, 4, 128, 8 * 768),
    ),
    Family(VoxtralAdapter, voxtral, voxtral.tiny_config, ("3B", 3072, 30, 32, 8, 128, 8192)),
    Family(Phi4MultimodalAdapter, phi4_multimodal, phi4_multimodal.tiny_config, ("5.6B", 3072, 32, 24, 8, 128, 8192)),
    Family(Gemma3nAdapter, gemma3n, gemma3n.tiny_config, ("E2B", 2048, 30, 8, 2, 256, 8192)),
]  # fmt: skip


# The released checkpoints' config.json, as far as it sets the decoder and the placeholder (Qwen2-Audio-7B's sparse
# text_config, as third-party code quotes it; Audio Flamingo 3's as transformers' conversion script writes it), and
# the special ids the benchmark must then suppress: the placeholder and, for Qwen2-Audio, its audio start and end
RELEASED_CONFIGS = {
    "qwen2_audio": {
        "architectures": ["Qwen2AudioForConditionalGeneration"],
        "model_type": "qwen2_audio",
        "audio_token_index": 151646,
        "text_config": {
            "model_type": "qwen2", "bos_token_id": 151643, "eos_token_id": 151645, "intermediate_size": 11008,
            "max_position_embeddings": 8192, "rope_theta": 10000, "rms_norm_eps": 1e-05, "sliding_window": 32768,
            "vocab_size": 156032,
        },
    },
    "audio_flamingo3": {
        "architectures": ["AudioFlamingo3ForConditionalGeneration"],
        "model_type": "audioflamingo3",
        "text_config": {
            "model_type": "qwen2", "bos_token_id": 151643, "eos_token_id": 151645, "hidden_size": 3584,
            "intermediate_size": 18944, "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4,
            "rope_theta": 1000000.0, "vocab_size": 151672,
        },
    },
}  # fmt: skip
RELEASED_SPECIAL_IDS = {"qwen2_audio": [151646, 151647, 151648], "audio_flamingo3": [151669]}


@pytest.fixture(scope="module", params=FAMILIES, ids=lambda f: f.adapter.family)
def family(request):
    return request.param


@pytest.fixture(scope="module")
def config_path(family, tmp_path_factory):
    path = tmp_path_factory.mktemp(family.adapter.family) / "config.json"
    family.tiny_config(num_layers=4).to_json_file(path)
    return str(path)


@pytest.fixture(scope="module")
def model(family, config_path):
    torch.manual_seed(0)
    return family.adapter.random_model_from_config(config_path)


def test_the_default_shape_is_the_published_one(family):
    name, hidden, layers, heads, kv_heads, head_dim, mlp = family.first_shape
    shapes = family.adapter.published_shapes
    assert next(iter(shapes)) == name
    with torch.device("meta"):
        model = family.adapter.random_model(name, num_layers=layers)
    shape = flops.DecoderShape.from_config(adapter_for(model).text_config)
    assert dataclasses.replace(shape, sliding_window=None, sliding_layers=()) == flops.DecoderShape(
        hidden, heads, kv_heads, head_dim, mlp, layers
    )
    assert family.adapter.family and family.adapter.title
    assert bench.family_adapter(family.adapter.family) is family.adapter


def test_random_models_have_the_published_widths(family):
    for name, widths in family.adapter.published_shapes.items():
        with torch.device("meta"):  # the widths, not the weights
            model = family.adapter.random_model(name, num_layers=3, dtype=torch.bfloat16)
        adapter = adapter_for(model)
        assert type(adapter) is family.adapter and not adapter.forward_module.training
        heads = widths["num_attention_heads"]
        shape = flops.DecoderShape.from_config(adapter.text_config)
        assert (shape.hidden_size, shape.num_heads, shape.num_kv_heads, shape.num_layers) == (
            widths["hidden_size"], heads, widths["num_key_value_heads"], 3,
        )  # fmt: skip
        assert shape.head_dim == widths.get("head_dim", widths["hidden_size"] // heads)
        if "rope_theta" in widths:  # Gemma-3n sets one per attention kind, as transformers' defaults do
            assert adapter.text_config.rope_parameters["rope_theta"] == widths["rope_theta"]
        assert adapter.text_config.vocab_size <= 512 and adapter.forward_module.dtype == torch.bfloat16


def test_unknown_shapes_are_refused(family):
    with pytest.raises(ValueError, match="no published shape '1B'; known: "):
        family.adapter.random_model("1B", num_layers=2)


def test_a_model_from_a_config_file(family, model, config_path):
    adapter = adapter_for(model)
    assert type(adapter) is family.adapter and adapter.num_layers == 4
    assert not adapter.forward_module.training
    half = family.adapter.random_model_from_config(config_path, dtype=torch.bfloat16)
    assert adapter_for(half).forward_module.dtype == torch.bfloat16


def test_special_ids_cover_the_tiny_models(family, model):
    """The placeholders and padding the tiny model never writes (and media boundaries some families add)."""
    ids = adapter_for(model).special_token_ids()
    assert ids == sorted(set(ids)) and set(family.tiny.SPECIAL_TOKENS) <= set(ids)


def test_placeholder_prompt_lays_out_one_clip_as_the_processor_does(family, model):
    adapter = adapter_for(model)
    special = set(adapter.special_token_ids())
    prompt = adapter.placeholder_prompt(25, text_before=4, text_after=6, seed=3)
    ids = prompt["input_ids"]
    assert ids.shape[0] == 1 and torch.equal(prompt["attention_mask"], torch.ones_like(ids))
    audio = adapter.audio_mask(ids)[0]
    assert int(audio.sum()) == 25
    positions = audio.nonzero()[:, 0]
    assert positions[-1] - positions[0] == 24  # one run of placeholders
    # what the processor writes right around a clip's placeholders: its audio start and end tokens, or text
    inputs = adapter.build_inputs(family.tiny.tiny_processor(), [family.tiny.tone(1.0)], ["Which note?"])
    row, mask = inputs["input_ids"][0], adapter.audio_mask(inputs["input_ids"])[0]
    span = mask.nonzero()[:, 0]
    expected = [int(row[span[0] - 1]), int(row[span[-1] + 1])]
    around = [int(ids[0, positions[0] - 1]), int(ids[0, positions[-1] + 1])]
    assert [t if t in special else None for t in around] == [t if t in special else None for t in expected]
    boundaries = sum(t in special for t in around)
    assert ids.shape[1] == 4 + 25 + boundaries + 6
    text = ids[0, ~audio].tolist()
    assert len(text) == 4 + 6 + boundaries and not special & set(text[:4] + text[-6:])
    assert torch.equal(adapter.placeholder_prompt(25, text_before=4, text_after=6, seed=3)["input_ids"], ids)
    assert not torch.equal(adapter.placeholder_prompt(25, text_before=4, text_after=6, seed=4)["input_ids"], ids)


def test_the_placeholder_prompt_runs_pruned(model):
    adapter = adapter_for(model)
    prompt = adapter.placeholder_prompt(30, text_before=4, text_after=6)
    generator = adapter.forward_module
    headrouter.wrap(model, keep_ratio=0.5, method="fastv")
    try:
        with torch.no_grad():
            out = generator.generate(
                **prompt, max_new_tokens=3, do_sample=False, suppress_tokens=adapter.special_token_ids()
            )
        record = model.headrouter.records[0]
    finally:
        headrouter.unwrap(model)
    assert record.audio_tokens_before == 30 and record.audio_tokens_after == 15
    assert not set(out[0, prompt["input_ids"].shape[1] :].tolist()) & set(adapter.special_token_ids())


def test_bench_runs_on_the_family(family, model, config_path):
    settings = bench.BenchSettings(
        family=family.adapter.family,
        config_path=config_path,
        lengths=(20,),
        keep_ratios=(1.0, 0.5),
        methods=("fastv",),
        runs=1,
        decode_tokens=2,
        progress=False,
    )
    results = bench.run_benchmark(settings)
    assert results["model"]["family"] == family.adapter.family
    cells = {(c["method"], c["keep_ratio"]): c for c in results["cells"]}
    assert set(cells) == {("none", None), ("fastv", 1.0), ("fastv", 0.5)}
    assert cells["fastv", 0.5]["audio_tokens_after"] == math.ceil(0.5 * 20) < cells["fastv", 1.0]["audio_tokens_after"]
    prompt = adapter_for(model).placeholder_prompt(20, text_before=bench.TEXT_BEFORE, text_after=bench.TEXT_AFTER)
    assert all(c["tokens_before"] == prompt["input_ids"].shape[1] for c in cells.values())


@pytest.mark.parametrize("name", RELEASED_CONFIGS)
def test_the_released_config_builds_the_published_shape(name, tmp_path):
    adapter_class = bench.family_adapter(name)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(RELEASED_CONFIGS[name]))
    with torch.device("meta"):
        model = adapter_class.random_model_from_config(path)
    adapter = adapter_for(model)
    widths = next(iter(adapter_class.published_shapes.values()))
    heads = widths["num_attention_heads"]
    assert flops.DecoderShape.from_config(adapter.text_config) == flops.DecoderShape(
        widths["hidden_size"], heads, widths["num_key_value_heads"], widths["hidden_size"] // heads,
        widths["intermediate_size"], widths["num_hidden_layers"],
    )  # fmt: skip
    assert adapter.text_config.rope_parameters["rope_theta"] == widths["rope_theta"]
    assert adapter.text_config.rms_norm_eps == widths["rms_norm_eps"]
    assert adapter.special_token_ids() == RELEASED_SPECIAL_IDS[name]
