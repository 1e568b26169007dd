"""HeadRouter: statistics by hand, debiasing, routing, tables, ablations, calibrate -> save -> load -> generate."""

from __future__ import annotations

import copy
import json
import math
import re

import pytest
import torch

import headrouter
from headrouter import get_method
from headrouter.adapters import adapter_for
from headrouter.adapters.qwen2_5_omni import tiny
from headrouter.methods.headrouter import stats
from headrouter.methods.headrouter.calibration import HeadStatistics
from headrouter.methods.headrouter.stats import sparse_weights
from headrouter.methods.headrouter.table import HeadTable, config_hash


def test_statistics_by_hand():
    # one query, four keys, audio at 1 and 2
    rows = torch.tensor([[[[0.5, 0.25, 0.25, 0.0]], [[0.2, 0.8, 0.0, 0.0]], [[0.1, 0.6, 0.3, 0.0]]]])
    audio = torch.tensor([[False, True, True, False]])
    mass = stats.audio_mass(rows, audio)[0, :, 0]
    assert torch.allclose(mass, torch.tensor([0.5, 0.8, 0.9]))
    select = stats.selectivity(rows, audio)[0, :, 0]
    p = torch.tensor([2 / 3, 1 / 3])
    third = 1 + (p * p.log()).sum() / math.log(2)
    assert torch.allclose(select, torch.tensor([0.0, 1.0, float(third)]), atol=1e-6)
    vector = stats.behaviour(rows, audio, torch.tensor([[True]]))
    assert torch.allclose(vector, torch.tensor([[0.5, 0.8, 0.9, 0.0, 1.0, float(third)]]), atol=1e-6)


def test_query_mean_ignores_padding_slots():
    values = torch.tensor([[[1.0, 3.0, 100.0]]])
    assert stats.query_mean(values, torch.tensor([[True, True, False]])).item() == 2.0


def test_relative_bins_span_clips():
    audio = torch.tensor([[False, True, True, False, True, True, False]])
    # ranks 0..3 over n = 4 -> relative 0, 1/3, 2/3, 1 -> 4 bins: 0, 1, 2, 3
    assert stats.relative_bins(audio, 4).tolist() == [[0, 0, 1, 0, 2, 3, 0]]


def test_sparse_weights_by_hand():
    importance = torch.tensor([[0.05, 0.5, 0.15, 0.3], [0.0, 0.0, 0.0, 0.0]])
    weights = sparse_weights(importance, coverage=0.8)
    assert torch.allclose(weights[0], torch.tensor([0.0, 0.625, 0.0, 0.375]))
    assert torch.equal(weights[1], torch.full((4,), 0.25))


def test_positional_prior_removes_a_linear_tail_bias():
    torch.manual_seed(0)
    n, bins = 64, 16
    audio = torch.ones(1, n, dtype=torch.bool)
    ramp = 1 + 3 * torch.linspace(0, 1, n)  # later tokens get up to 4x the attention for position alone
    statistics = HeadStatistics(num_layers=1, num_heads=1, bins=bins)
    for _ in range(300):
        content = torch.rand(n)
        row = content * ramp
        statistics.add_layer(0, (row / row.sum()).view(1, 1, 1, n), audio, torch.tensor([[True]]), torch.tensor([0]))
        statistics.finish_sample("acoustic")
    prior = statistics.to_table(["acoustic"], 1.0, {}).prior[0, 0]  # (bins,)
    content = torch.rand(n)
    row = content * ramp
    debiased = row / prior[stats.relative_bins(audio, bins)[0]]
    first, second = slice(0, n // 2), slice(n // 2, n)
    raw_ratio = ((row / content)[second].mean() / (row / content)[first].mean()).item()
    fixed_ratio = ((debiased / content)[second].mean() / (debiased / content)[first].mean()).item()
    assert raw_ratio > 1.8
    assert abs(fixed_ratio - 1) < 0.1
    assert torch.corrcoef(torch.stack([debiased, content]))[0, 1] > 0.97


def two_task_table(layers=4, heads=4, bins=8) -> HeadTable:
    torch.manual_seed(1)
    weights = {t: sparse_weights(torch.rand(layers, heads), 0.8) for t in ("semantic", "acoustic")}
    profiles = {t: torch.rand(layers, 2 * heads) for t in weights}
    return HeadTable(
        weights=weights,
        profiles=profiles,
        mass={t: p[:, :heads] for t, p in profiles.items()},
        selectivity={t: p[:, heads:] for t, p in profiles.items()},
        prior=torch.rand(layers, heads, bins) + 0.5,
        feature_mean=torch.rand(layers, 2 * heads),
        feature_std=torch.rand(layers, 2 * heads) + 0.1,
        meta={"note": "synthetic"},
    )


def test_routing_picks_the_matching_task_and_halves_between_two():
    table = two_task_table()
    semantic, acoustic = table.profiles["semantic"][1], table.profiles["acoustic"][1]
    mixture = table.route(torch.stack([semantic, acoustic, (semantic + acoustic) / 2]), layer=1, temperature=0.1)
    assert mixture[0].argmax() == 0 and mixture[1].argmax() == 1
    sharp = table.route(torch.stack([semantic, acoustic]), layer=1, temperature=0.01)
    assert sharp[0, 0] > 0.99 and sharp[1, 1] > 0.99
    assert torch.allclose(mixture[2], torch.tensor([0.5, 0.5]), atol=1e-6)
    mixed = table.mixed_weights(mixture[2:], layer=1)[0]
    assert torch.allclose(mixed, (table.weights["semantic"][1] + table.weights["acoustic"][1]) / 2)


def test_table_round_trip_is_bit_exact(tmp_path):
    table = two_task_table()
    table.save_pretrained(tmp_path / "t")
    loaded = HeadTable.from_pretrained(tmp_path / "t")
    assert loaded.tasks == table.tasks
    for name in ("weights", "profiles", "mass", "selectivity"):
        for task in table.tasks:
            assert torch.equal(getattr(loaded, name)[task], getattr(table, name)[task])
    for name in ("prior", "feature_mean", "feature_std"):
        assert torch.equal(getattr(loaded, name), getattr(table, name))
    assert loaded.meta["note"] == "synthetic" and loaded.meta["num_heads"] == 4


def test_loading_a_missing_table_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a HeadTable directory"):
        HeadTable.from_pretrained(tmp_path)


def test_table_for_another_shape_is_refused(models):
    table = two_task_table(layers=6, heads=4)
    with pytest.raises(ValueError, match="calibrated for 6 layers x 4 heads, but the model has 4 layers x 4 heads"):
        headrouter.wrap(models["sdpa"], method="headrouter", table=table)


def test_unknown_task_is_refused():
    with pytest.raises(ValueError, match=r"task must be one of \['auto', 'semantic', 'acoustic'\]"):
        headrouter.get_method("headrouter", table=two_task_table(), task="music")


def test_a_table_held_in_memory_is_refused_by_configs_and_a_saved_one_is_named_by_its_directory(models, tmp_path):
    table = two_task_table()
    refusal = (
        "method 'headrouter', setting 'table': this HeadTable is held in memory only (it has no directory): save it "
        "with table.save_pretrained(directory) and pass the directory (table=directory) instead"
    )
    with headrouter.pruning(models["sdpa"], method="headrouter", table=table) as router:  # pruning works all the same
        assert router.config.method_kwargs["table"] is table
        with pytest.raises(ValueError) as raised:
            router.config.to_dict()
    assert str(raised.value) == refusal
    method = headrouter.get_method("headrouter", table=table, task="acoustic")
    with pytest.raises(ValueError) as raised:
        method.config()
    assert str(raised.value) == refusal
    with pytest.raises(ValueError) as raised:
        headrouter.get_method("segment", inner=method).config()
    assert str(raised.value) == f"method 'segment', setting 'inner': {refusal}"
    assert repr(method) == (
        "HeadRouterMethod(table=HeadTable(in memory, tasks=['semantic', 'acoustic'], layers=4, heads=4), "
        "task='acoustic', temperature=0.1, debias=True, uniform_heads=False, route_on='behaviour', "
        "text_match='nearest', layers=1)"
    )

    table.save_pretrained(tmp_path)
    with headrouter.pruning(models["sdpa"], method="headrouter", table=tmp_path, task="acoustic") as router:
        data = router.config.to_dict()
    assert data["method_kwargs"] == {
        "table": str(tmp_path),
        "task": "acoustic",
        "temperature": 0.1,
        "debias": True,
        "uniform_heads": False,
        "route_on": "behaviour",
        "text_match": "nearest",
        "layers": 1,
    }
    again = headrouter.PruningConfig.from_dict(json.loads(json.dumps(data)))
    assert again.to_dict() == data
    rebuilt = headrouter.get_method(again.method, **again.method_kwargs)
    assert rebuilt.table.source == str(tmp_path) and torch.equal(rebuilt.table.prior, table.prior)


def test_with_table_hands_a_table_to_headrouter_alone_or_inside_segment():
    table = two_task_table()
    plain = headrouter.get_method("headrouter", temperature=0.5)
    given = plain.with_table(table)
    assert given.table is table and given.temperature == 0.5 and plain.table is None
    inner = headrouter.get_method("segment", segments=3, inner=plain).with_table(table).inner
    assert inner.table is table and inner.temperature == 0.5


def test_segment_composes_with_a_calibrated_headrouter_object(models, batch):
    method = headrouter.get_method("headrouter", table=two_task_table(), task="semantic")
    routed, details = kept(models["sdpa"], batch, keep_ratio=0.3, method=method)
    one_segment = headrouter.get_method("segment", segments=1, inner=method)
    assert one_segment.queries == "after_audio"
    assert kept(models["sdpa"], batch, keep_ratio=0.3, method=one_segment) == (routed, details)
    assert details[0] == {"task_mixture": {"semantic": 1.0, "acoustic": 0.0}}
    assert kept(models["sdpa"], batch, keep_ratio=0.3, method="segment", segments=4, inner=method)[0] != routed


def kept(model, inputs, **kwargs):
    with headrouter.pruning(model, **kwargs) as router, torch.no_grad():
        model(**inputs)
        return [r.kept_positions for r in router.records], [r.details for r in router.records]


@pytest.mark.parametrize("table", [None, "synthetic"])
def test_uniform_heads_without_debiasing_equals_fastv(models, batch, table):
    model = models["sdpa"]
    table = two_task_table() if table else None
    fastv, _ = kept(model, batch, keep_ratio=0.3, method="fastv")
    plain, _ = kept(model, batch, keep_ratio=0.3, method="headrouter", table=table, uniform_heads=True, debias=False)
    assert plain == fastv
    routed, _ = kept(model, batch, keep_ratio=0.3, method="headrouter", table=table)
    assert routed != fastv


def test_each_switch_changes_the_choice(models, batch):
    model, table = models["sdpa"], two_task_table()
    full, details = kept(model, batch, keep_ratio=0.3, method="headrouter", table=table)
    assert all(abs(sum(d["task_mixture"].values()) - 1) < 1e-6 for d in details[:2])
    assert details[2] == {}  # no audio, nothing scored
    assert all(set(d) == set(headrouter.get_method("headrouter").reports) for d in details[:2])
    for switch in (dict(debias=False), dict(uniform_heads=True), dict(task="acoustic")):
        assert kept(model, batch, keep_ratio=0.3, method="headrouter", table=table, **switch)[0] != full, switch
    _, fixed = kept(model, batch, keep_ratio=0.3, method="headrouter", table=table, task="semantic")
    assert fixed[0]["task_mixture"] == {"semantic": 1.0, "acoustic": 0.0}


@pytest.fixture(scope="module")
def processor():
    return tiny.tiny_processor()


def acoustic_sample() -> headrouter.CalibrationSample:
    return headrouter.CalibrationSample(tiny.tone(1.0), "Which tone?", "acoustic", tiny.SAMPLE_RATE)


def other_rope_model():
    """A tiny thinker of the same shape as the ``models`` fixture's but another rotary theta (as a fine-tune might)."""
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    config = tiny.tiny_thinker_config()
    config.text_config.rope_parameters["rope_theta"] = 1e6
    return Qwen2_5OmniThinkerForConditionalGeneration._from_config(config).eval()


def test_table_from_a_model_of_another_architecture_is_refused(models, processor):
    table = headrouter.calibrate(models["sdpa"], processor, [acoustic_sample()], tasks=["acoustic"], progress=False)
    other = other_rope_model()
    recorded, actual = table.meta["config_hash"], config_hash(adapter_for(other).text_config)
    assert recorded != actual
    with pytest.raises(ValueError) as raised:
        headrouter.wrap(other, method="headrouter", table=table)
    assert str(raised.value).startswith(
        f"this HeadTable was calibrated on a Qwen2_5OmniThinkerForConditionalGeneration whose decoder config hash is "
        f"{recorded}, but this Qwen2_5OmniThinkerForConditionalGeneration's is {actual}: same shape"
    )
    assert not hasattr(other, "headrouter")
    headrouter.wrap(models["sdpa"], method="headrouter", table=table)  # the model it was calibrated on: fine
    headrouter.unwrap(models["sdpa"])


def test_config_hash_covers_the_architecture_only():
    config = adapter_for(tiny.tiny_model()).text_config
    same = copy.deepcopy(config)
    same.dtype, same.use_cache, same.vocab_size, same.return_dict = torch.bfloat16, False, 300, False
    assert config_hash(same) == config_hash(config)  # load settings and vocabulary do not change the heads
    for field, value in (("rms_norm_eps", 1e-5), ("num_key_value_heads", 4), ("intermediate_size", 96)):
        other = copy.deepcopy(config)
        setattr(other, field, value)
        assert config_hash(other) != config_hash(config), field
    full = adapter_for(tiny.tiny_model(full=True)).text_config
    assert config_hash(full) == config_hash(config)  # the thinker inside the full model is the same decoder


def test_shipped_table_fits_the_shipped_checkpoint_and_no_other(tmp_path):
    from headrouter.evaluation.demo import SHIPPED_MODEL, SHIPPED_TABLE
    from headrouter.evaluation.runner import check_checkpoint

    shipped = HeadTable.from_pretrained(SHIPPED_TABLE)
    check_checkpoint(SHIPPED_MODEL, 2, shipped)  # config.json only: no weights loaded
    tiny.tiny_model().save_pretrained(tmp_path)  # same shape (4 layers x 4 heads), another architecture
    with pytest.raises(ValueError, match=r"calibrated on a Qwen2_5OmniThinkerForConditionalGeneration whose decoder"):
        check_checkpoint(tmp_path, 2, shipped)
    with pytest.raises(ValueError, match=r"^prune_layer must be between 1 and 3 for a decoder of 4 layers, got 4$"):
        check_checkpoint(SHIPPED_MODEL, 4)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "head_table.json").write_text("{not json"), r"head_table\.json: not HeadTable metadata"),
        (lambda d: (d / "head_table.json").write_text("{}"), r"head_table\.json: not HeadTable metadata \(KeyError"),
        (lambda d: (d / "head_table.safetensors").write_bytes(b"junk"), r"head_table\.safetensors: not a safetens"),
    ],
    ids=["bad-json", "no-tasks", "bad-tensors"],
)
def test_a_damaged_table_names_the_file(tmp_path, damage, message):
    two_task_table().save_pretrained(tmp_path)
    damage(tmp_path)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(tmp_path))}/{message}"):
        HeadTable.from_pretrained(tmp_path)


def test_a_table_missing_tensors_names_them(tmp_path):
    table = two_task_table()
    table.save_pretrained(tmp_path)
    meta = json.loads((tmp_path / "head_table.json").read_text())
    (tmp_path / "head_table.json").write_text(json.dumps({**meta, "tasks": ["semantic", "music"]}))
    with pytest.raises(ValueError) as raised:
        HeadTable.from_pretrained(tmp_path)
    assert str(raised.value) == (
        f"{tmp_path / 'head_table.safetensors'} lacks the tensors ['weights.music', 'profiles.music', 'mass.music', "
        "'selectivity.music'] its metadata's task types need"
    )


def test_bins_without_a_prior_are_not_debiased():
    """A head table whose prior is 0 in some bins (calibration queries never saw them, e.g. beyond a sliding window)
    scores those bins by their attention as it is: finite, and not boosted."""
    from headrouter.methods import ScoringContext

    table = HeadTable(
        weights={"acoustic": torch.ones(2, 2) / 2},
        profiles={"acoustic": torch.zeros(2, 4)},
        mass={"acoustic": torch.zeros(2, 2)},
        selectivity={"acoustic": torch.zeros(2, 2)},
        prior=torch.tensor([[[0.0, 0.5], [0.0, 0.25]]] * 2),  # (layers, heads, bins): bin 0 never seen
        feature_mean=torch.zeros(2, 4),
        feature_std=torch.ones(2, 4),
        meta={"task_types": ["acoustic"]},
    )
    method = get_method("headrouter", table=table, task="acoustic")
    audio = torch.tensor([[True, True, True, True, False]])
    attention = torch.tensor([[0.1, 0.2, 0.3, 0.4, 0.0]]).expand(2, 5)[None, :, None]  # (B, H, Q, L)
    ctx = ScoringContext(
        audio_mask=audio, attention_mask=torch.ones(1, 5, dtype=torch.bool), hidden_states=torch.zeros(1, 5, 4),
        layer=1, query_index=torch.tensor([[4]]), query_mask=torch.ones(1, 1, dtype=torch.bool), attention=attention,
        details=[{}],
    )  # fmt: skip
    scores = method.score(ctx)
    # tokens 0-1 in bin 0 (no prior: as they are), tokens 2-3 in bin 1 (heads' priors 0.5, 0.25: mean of 2x and 4x)
    assert torch.allclose(scores[0, :4], torch.tensor([0.1, 0.2, 0.3 * 3, 0.4 * 3]))
