"""calibrate(weighting="fidelity"): each head's gain equals a hand-built reference, weights follow the gains, errors."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import pytest
import soundfile
import torch

import headrouter
from headrouter import cli
from headrouter.adapters.chat_inputs import processor_inputs
from headrouter.adapters.qwen2_5_omni import loading, tiny
from headrouter.methods import ScoringContext, ScoringMethod
from headrouter.methods.headrouter import stats
from headrouter.methods.headrouter.calibration import CalibrationSample
from headrouter.methods.headrouter.fidelity import significant_gains
from headrouter.methods.headrouter.stats import sparse_weights

RATE = tiny.SAMPLE_RATE


@pytest.fixture(scope="module")
def processor():
    return tiny.tiny_processor()


def samples():
    tone = tiny.tone(2.0, 440.0)
    sweep = torch.linspace(-0.3, 0.3, int(1.6 * RATE)).sin().numpy()
    return [
        CalibrationSample(tone, "What pitch is this tone?", "acoustic", RATE),
        CalibrationSample(sweep, "Transcribe the speech.", "semantic", RATE),
    ]


@dataclass(repr=False)
class OneHead(ScoringMethod):
    """Reference: one head's last-query attention at layer K-1 divided by its positional prior, written out by hand."""

    name = "one_head_reference"
    queries = "after_audio"
    head: int = 0
    prior: torch.Tensor | None = None

    def score(self, ctx: ScoringContext) -> torch.Tensor:
        rows = ctx.attention[0, self.head, ctx.last_query[0]]  # (L,)
        bins = stats.relative_bins(ctx.audio_mask, self.prior.shape[-1])[0]
        return (rows / self.prior[self.head, bins])[None]


def divergence(model, inputs, reference, ratio, method) -> float:
    with headrouter.pruning(model, ratio, prune_layer=2, method=method), torch.no_grad():
        pruned = model(**inputs, use_cache=False).logits[0, -1].double().log_softmax(-1)
    return float((reference.exp() * (reference - pruned)).sum())


def test_gains_weights_and_untouched_layers_match_a_hand_built_reference(models, processor, tmp_path):
    model = models["eager"]
    attention = headrouter.calibrate(model, processor, samples(), progress=False)
    table = headrouter.calibrate(  # z = 0: every head with a positive gain is weighted (one sample has no error)
        model, processor, samples(), weighting="fidelity", fidelity_keep_ratios=[0.5, 0.2], fidelity_z=0, progress=False
    )
    assert table.meta["settings"]["weighting"] == "fidelity"
    assert table.meta["fidelity"]["layers"] == [1] and table.meta["fidelity"]["keep_ratios"] == [0.5, 0.2]
    assert table.meta["fidelity"]["z"] == 0 and table.meta["fidelity"]["standard_errors"]["acoustic"]["1"] == [None] * 4
    prior = attention.prior[1].double()
    for sample in samples():
        inputs = processor_inputs(processor, sample.audio, sample.prompt)
        with torch.no_grad():
            reference = model(**inputs, use_cache=False).logits[0, -1].double().log_softmax(-1)
        chance = headrouter.get_method("random", seed=0)
        floor = {r: divergence(model, inputs, reference, r, chance) for r in (0.5, 0.2)}
        expected = torch.tensor(
            [
                sum(floor[r] - divergence(model, inputs, reference, r, OneHead(head=h, prior=prior)) for r in floor) / 2
                for h in range(4)
            ],
            dtype=torch.float64,
        )
        gains = torch.tensor(table.meta["fidelity"]["gains"][sample.task]["1"], dtype=torch.float64)
        assert torch.allclose(gains, expected, atol=1e-6), (sample.task, gains, expected)
        weights = table.weights[sample.task]
        assert torch.allclose(weights[1], sparse_weights(expected.clamp_min(0), 0.8).float(), atol=1e-5)
        for layer in (0, 2, 3):  # the layers not measured keep the attention profile's weights
            assert torch.equal(weights[layer], attention.weights[sample.task][layer])
    assert torch.equal(table.prior, attention.prior)
    table.save_pretrained(tmp_path / "table")
    assert headrouter.HeadTable.from_pretrained(tmp_path / "table").meta["fidelity"] == table.meta["fidelity"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weighting": "consequence"}, r"weighting must be one of \['attention', 'fidelity'\], got 'consequence'"),
        ({"fidelity_layers": [3]}, r"fidelity_layers must be layers 0\.\.2 \(pruning starts at the layer after\)"),
        ({"fidelity_layers": []}, "fidelity_layers must be a non-empty list of distinct layers"),
        ({"fidelity_keep_ratios": [0.5, 1.0]}, r"fidelity_keep_ratios must be a non-empty list of ratios in \(0, 1\)"),
        ({"fidelity_z": -1.0}, r"fidelity_z must be a finite number >= 0 \(standard errors\), got -1.0"),
    ],
    ids=["unknown-weighting", "layer-without-a-layer-after", "no-layers", "ratio-one", "negative-z"],
)
def test_bad_fidelity_settings_fail_before_any_forward_pass(models, processor, monkeypatch, kwargs, message):
    model = models["sdpa"]

    def no_forward(*args, **kwargs):
        raise AssertionError("a forward pass ran before the settings were checked")

    monkeypatch.setattr(model, "forward", no_forward)
    settings = {"weighting": "fidelity", **kwargs}
    with pytest.raises(ValueError, match=message):
        headrouter.calibrate(model, processor, samples(), progress=False, **settings)


def test_cli_calibrates_with_fidelity_weighting(models, processor, tmp_path, capsys):
    checkpoint = tmp_path / "ckpt"
    models["sdpa"].save_pretrained(checkpoint)
    processor.save_pretrained(checkpoint)
    lines = []
    for i, sample in enumerate(samples()):
        soundfile.write(tmp_path / f"{i}.wav", sample.audio, RATE)
        lines.append(json.dumps({"audio": f"{i}.wav", "prompt": sample.prompt, "task": sample.task}))
    (tmp_path / "calib.jsonl").write_text("\n".join(lines) + "\n")
    argv = ["calibrate", "--model", str(checkpoint), "--data", str(tmp_path / "calib.jsonl"), "--out",
            str(tmp_path / "table"), "--weighting", "fidelity", "--fidelity-layers", "0,2",
            "--fidelity-keep", "0.4"]  # fmt: skip
    assert cli.main(argv) == 0
    meta = headrouter.HeadTable.from_pretrained(tmp_path / "table").meta
    assert meta["fidelity"]["layers"] == [0, 2] and meta["fidelity"]["keep_ratios"] == [0.4]
    assert set(meta["fidelity"]["gains"]["acoustic"]) == {"0", "2"}


def test_cli_refuses_fidelity_settings_without_fidelity_weighting(tmp_path, monkeypatch, capsys):
    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the arguments were checked")

    monkeypatch.setattr(loading, "load_model", no_model)
    soundfile.write(tmp_path / "a.wav", tiny.tone(1.0), RATE)
    (tmp_path / "calib.jsonl").write_text('{"audio": "a.wav", "prompt": "?", "task": "acoustic"}\n')
    argv = ["calibrate", "--model", str(tmp_path), "--data", str(tmp_path / "calib.jsonl"), "--out",
            str(tmp_path / "t"), "--tasks", "acoustic", "--fidelity-keep", "0.3"]  # fmt: skip
    assert cli.main(argv) == 2
    assert "--fidelity-layers, --fidelity-keep and --fidelity-z set up --weighting fidelity" in capsys.readouterr().err


def test_a_head_is_weighted_only_where_its_gain_clears_z_standard_errors():
    gains = torch.tensor(
        [[1.0, 2.0, 0.5], [1.0, -2.0, 0.1], [1.0, 2.0, 0.3], [1.0, -2.0, 0.3]], dtype=torch.float64
    )  # (samples, heads): head 0 always gains 1; head 1 gains nothing on average; head 2 gains 0.3, error 0.0816
    kept, error = significant_gains(gains, 2.0)
    assert torch.allclose(error, torch.tensor([0.0, 2.0 / 4**0.5 * (4 / 3) ** 0.5, (0.08 / 3) ** 0.5 / 2]).double())
    assert kept.tolist() == pytest.approx([1.0, 0.0, 0.3])
    assert significant_gains(gains, 4.0)[0].tolist() == pytest.approx([1.0, 0.0, 0.0])  # 0.3 < 4 x 0.0816
    assert significant_gains(gains, 0.0)[0].tolist() == pytest.approx([1.0, 0.0, 0.3])  # 0: any positive mean
    one = gains[:1]
    assert significant_gains(one, 2.0)[0].tolist() == [0.0, 0.0, 0.0]  # one sample: no error known, nothing clears
    assert significant_gains(one, 0.0)[0].tolist() == [1.0, 2.0, 0.5]


def test_a_layer_where_no_head_clears_gets_uniform_weights_and_a_warning(models, processor, caplog):
    with caplog.at_level(logging.WARNING, logger="headrouter"):  # one sample per task type: no head can clear z = 2
        table = headrouter.calibrate(models["sdpa"], processor, samples(), weighting="fidelity", progress=False)
    for task_type in ("acoustic", "semantic"):
        assert torch.equal(table.weights[task_type][1], torch.full((4,), 0.25))
    assert table.meta["fidelity"]["z"] == 2.0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "no head of layer 1 beats a random choice by 2 standard errors" in warnings[0]
