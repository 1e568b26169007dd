"""Routing on the instruction text: the feature, its calibrated profiles, the router's formula and the switch."""

from __future__ import annotations

import pytest
import torch
from test_headrouter import kept, two_task_table

import headrouter
from headrouter.adapters.chat_inputs import processor_inputs
from headrouter.adapters.qwen2_5_omni import tiny
from headrouter.methods.headrouter import stats
from headrouter.methods.headrouter.table import HeadTable

RATE = tiny.SAMPLE_RATE


def test_text_features_by_hand():
    hidden = torch.tensor([[[9.0, 9.0], [3.0, 4.0], [1.0, 1.0], [0.0, 2.0]]])
    index = torch.tensor([[1, 3, 0]])
    valid = torch.tensor([[True, True, False]])  # the third slot is padding and must not count
    # rms of (3, 4) is sqrt(12.5); of (0, 2) is sqrt(2)
    expected = ((torch.tensor([3.0, 4.0]) / 12.5**0.5) + (torch.tensor([0.0, 2.0]) / 2**0.5)) / 2
    assert torch.allclose(stats.text_features(hidden, index, valid)[0].float(), expected)


def text_table(width=3) -> HeadTable:
    table = two_task_table()
    torch.manual_seed(2)
    layers = table.num_layers
    table.text_profiles = {t: torch.randn(layers, width) for t in table.tasks}
    table.text_mean, table.text_std = torch.randn(layers, width), torch.rand(layers, width) + 0.5
    table.text_examples = torch.randn(5, layers, width)
    table.text_example_types = torch.tensor([0, 0, 1, 1, 1])
    return table


def test_text_routing_by_hand():
    table = text_table()
    layer, temperature = 1, 0.5
    semantic, acoustic = table.text_profiles["semantic"][layer + 1], table.text_profiles["acoustic"][layer + 1]
    text = torch.stack([semantic, acoustic, (semantic + acoustic) / 2])
    mixture = table.route(None, layer, temperature, text, "mean")
    assert mixture[0].argmax() == 0 and mixture[1].argmax() == 1
    assert torch.allclose(mixture[2], torch.tensor([0.5, 0.5]), atol=1e-6)

    behaviour = table.profiles["acoustic"][layer][None]
    mean, std = table.feature_mean[layer], table.feature_std[layer]
    d_behaviour = torch.stack([(((behaviour[0] - table.profiles[t][layer]) / std) ** 2).mean() for t in table.tasks])
    t_mean, t_std = table.text_mean[layer + 1], table.text_std[layer + 1]
    d_text = torch.stack([(((semantic - table.text_profiles[t][layer + 1]) / t_std) ** 2).mean() for t in table.tasks])
    both = table.route(behaviour, layer, temperature, semantic[None], "mean")[0]
    assert torch.allclose(both, torch.softmax(-(d_behaviour + d_text) / 2 / temperature, -1), atol=1e-6)
    assert mean.shape == behaviour[0].shape and t_mean.shape == semantic.shape


def test_nearest_text_routing_by_hand():
    table = text_table(width=2)
    layer, temperature = 0, 0.5
    table.text_mean[layer + 1], table.text_std[layer + 1] = torch.zeros(2), torch.tensor([1.0, 2.0])
    # two wordings of each task type; the means of the two types coincide at (0, 0), so routing to the mean
    # cannot tell them apart, while every sample's own wording is nearest to its own type
    table.text_examples = torch.zeros(4, table.num_layers, 2)
    table.text_examples[:, layer + 1] = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    table.text_example_types = torch.tensor([0, 0, 1, 1])
    for t in table.tasks:
        table.text_profiles[t][layer + 1] = torch.zeros(2)
    text = torch.tensor([[0.9, 0.0], [0.0, -1.6]])
    # standardised by std (1, 2): (0.9, 0) is 0.1^2/2 from type 0's nearest (1, 0), and (0.9^2 + 1^2)/2 from (0, 2)
    expected_distances = torch.tensor([[0.01 / 2, (0.81 + 1.0) / 2], [(1.0 + 0.64) / 2, (0.0 + 0.04) / 2]])
    mixture = table.route(None, layer, temperature, text, "nearest")
    assert torch.allclose(mixture, torch.softmax(-expected_distances / temperature, -1), atol=1e-6)
    assert torch.allclose(table.route(None, layer, temperature, text, "mean"), torch.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="text_match must be 'mean' or 'nearest'"):
        table.route(None, layer, temperature, text, "closest")


def test_a_table_with_text_round_trips_and_an_old_one_still_loads(tmp_path):
    table = text_table()
    table.save_pretrained(tmp_path / "new")
    loaded = HeadTable.from_pretrained(tmp_path / "new")
    assert loaded.has_text
    for name in ("text_mean", "text_std"):
        assert torch.equal(getattr(loaded, name), getattr(table, name))
    assert all(torch.equal(loaded.text_profiles[t], table.text_profiles[t]) for t in table.tasks)
    assert torch.equal(loaded.text_examples, table.text_examples)
    assert torch.equal(loaded.text_example_types, table.text_example_types)
    two_task_table().save_pretrained(tmp_path / "old")
    assert not HeadTable.from_pretrained(tmp_path / "old").has_text
    with pytest.raises(ValueError, match="give all three or none"):
        HeadTable(**{**vars(two_task_table()), "text_mean": torch.zeros(4, 3)})
    with pytest.raises(ValueError, match="give both or neither"):
        HeadTable(**{**vars(text_table()), "text_example_types": None})
    with pytest.raises(ValueError, match="text_examples has shape"):
        HeadTable(**{**vars(text_table()), "text_examples": torch.zeros(5, 3)})
    with pytest.raises(ValueError, match="must index the task types"):
        HeadTable(**{**vars(text_table()), "text_example_types": torch.tensor([0, 0, 1, 1, 2])})
    with pytest.raises(ValueError, match="need text_profiles"):
        HeadTable(
            **{**vars(two_task_table()), "text_examples": torch.zeros(1, 4, 3), "text_example_types": torch.tensor([0])}
        )


def test_routing_on_text_needs_a_table_that_has_it():
    with pytest.raises(ValueError, match="route_on='text' needs a table with instruction-text profiles"):
        headrouter.get_method("headrouter", table=two_task_table(), route_on="text")
    with pytest.raises(ValueError, match="route_on must be one of"):
        headrouter.get_method("headrouter", table=text_table(), route_on="words")
    with pytest.raises(ValueError, match="no instruction-text profiles"):
        two_task_table().route(None, 1, 0.1, torch.zeros(1, 3))
    means_only = HeadTable(**{**vars(text_table()), "text_examples": None, "text_example_types": None})
    with pytest.raises(ValueError, match="text_match='nearest' needs a table with each calibration sample's"):
        headrouter.get_method("headrouter", table=means_only, route_on="both")
    assert (
        headrouter.get_method("headrouter", table=means_only, route_on="text", text_match="mean").text_match == "mean"
    )
    with pytest.raises(ValueError, match="text_match must be one of"):
        headrouter.get_method("headrouter", table=text_table(), route_on="text", text_match="closest")
    with pytest.raises(ValueError, match="no per-sample instruction-text features"):
        means_only.route(None, 1, 0.1, torch.zeros(1, 3), "nearest")


def test_routing_defaults_to_behaviour_even_with_text_profiles(models, batch):
    model, table = models["sdpa"], text_table(width=models["sdpa"].config.text_config.hidden_size)
    default = kept(model, batch, keep_ratio=0.3, method="headrouter", table=table)
    assert default == kept(model, batch, keep_ratio=0.3, method="headrouter", table=table, route_on="behaviour")
    assert default != kept(model, batch, keep_ratio=0.3, method="headrouter", table=table, route_on="text")


@pytest.fixture(scope="module")
def calibrated(models):
    processor = tiny.tiny_processor()
    samples = [
        headrouter.CalibrationSample(tiny.tone(2.0, 440.0), "What pitch is this tone?", "acoustic", RATE),
        headrouter.CalibrationSample(tiny.tone(1.5, 300.0), "Transcribe the speech.", "semantic", RATE),
    ]
    return processor, samples, headrouter.calibrate(models["eager"], processor, samples, progress=False)


def query_features(model, inputs) -> list[torch.Tensor]:
    """Per layer, the text feature of the tokens after the audio in the hidden states entering that layer."""
    with torch.no_grad():
        hidden = model(**inputs, output_hidden_states=True).hidden_states
    ids = inputs["input_ids"][0]
    first = int((ids == tiny.AUDIO_TOKEN).nonzero().max()) + 1
    index = torch.arange(first, ids.numel())[None]
    valid = torch.ones_like(index, dtype=torch.bool)
    return [stats.text_features(h, index, valid)[0] for h in hidden[:-1]]  # hidden[i] enters layer i


def test_calibrated_text_profiles_equal_the_models_hidden_states(models, calibrated):
    processor, samples, table = calibrated
    assert table.has_text and table.text_mean.shape == (4, models["eager"].config.text_config.hidden_size)
    for sample in samples:
        expected = query_features(models["eager"], processor_inputs(processor, sample.audio, sample.prompt))
        own = table.text_examples[table.text_example_types == table.tasks.index(sample.task)]
        assert own.shape[0] == 1  # one calibration sample per task type here: its features are the profile
        for layer, feature in enumerate(expected):
            assert torch.allclose(table.text_profiles[sample.task][layer].double(), feature, atol=1e-4), layer
            assert torch.allclose(own[0, layer].double(), feature, atol=2e-3), layer  # stored in float16


def test_the_router_reads_the_text_of_the_pruned_layers_input(models, calibrated):
    processor, samples, table = calibrated
    model, sample = models["eager"], samples[0]
    inputs = processor_inputs(processor, sample.audio, "Which note is it?")  # a prompt the table has not seen
    text = query_features(model, inputs)[2]
    for match in ("nearest", "mean"):
        _, details = kept(
            model, inputs, keep_ratio=0.5, method="headrouter", table=table, route_on="text", text_match=match,
            prune_layer=2,
        )  # fmt: skip
        expected = table.route(None, 1, 0.1, text[None].float(), match)[0]
        assert torch.allclose(torch.tensor(list(details[0]["task_mixture"].values())), expected, atol=1e-5)
