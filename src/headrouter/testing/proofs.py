"""The proofs headrouter's own tests run, as functions: run them on a method you wrote or a model family you added.

>>> from headrouter.testing import assert_pruned_equals_masked
>>> assert_pruned_equals_masked(model, inputs, method=MyMethod(), keep_ratio=0.3)   # raises AssertionError if not

Each takes an unwrapped model of a supported family and a left-padded batch of its inputs (``input_ids``,
``attention_mask`` and the audio features), and leaves the model unwrapped.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from headrouter.adapters import adapter_for
from headrouter.api import pruning
from headrouter.config import DEFAULT_PRUNE_LAYER
from headrouter.methods import ScoringContext, ScoringMethod
from headrouter.testing.reference import keep_mask_from_pruner, masked_reference


def greedy(model: nn.Module, inputs: Mapping, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``steps`` greedy tokens ``(B, steps)`` and their logits ``(B, steps, vocab)`` from the model's generating
    module (its adapter's forward module)."""
    module = adapter_for(model).forward_module
    with torch.no_grad():
        out = module.generate(
            **inputs,
            max_new_tokens=steps,
            min_new_tokens=steps,
            do_sample=False,
            output_logits=True,
            return_dict_in_generate=True,
        )
    return out.sequences[:, inputs["input_ids"].shape[1] :], torch.stack(out.logits, 1)


def forward_logits(model: nn.Module, inputs: Mapping) -> torch.Tensor:
    """The logits of one forward of the model's forward module."""
    with torch.no_grad():
        return adapter_for(model).forward_module(**inputs).logits


def assert_pruned_equals_masked(
    model: nn.Module,
    inputs: Mapping,
    method: str | ScoringMethod = "fastv",
    *,
    keep_ratio: float = 0.3,
    prune_layer: int = DEFAULT_PRUNE_LAYER,
    steps: int = 8,
    atol: float = 1e-5,
    **settings,
) -> None:
    """Pruning equals masking: the pruned forward's logits at every kept real position, and ``steps`` greedy tokens
    with their logits, equal those of the unwrapped model with the dropped audio tokens masked out of every layer
    ``>= prune_layer`` (:func:`~headrouter.testing.reference.masked_reference`). ``AssertionError`` says which part
    differs, and by how much."""
    with pruning(model, keep_ratio, prune_layer=prune_layer, method=method, **settings) as pruner:
        pruned = forward_logits(model, inputs)
        index, valid = pruner.kept_index, pruner.kept_valid
        if index is None:
            raise AssertionError("nothing was pruned: the inputs hold no audio tokens")
        keep = keep_mask_from_pruner(pruner, inputs["input_ids"].shape[1])
        tokens, scores = greedy(model, inputs, steps)
    if bool(keep[inputs["attention_mask"].bool()].all()):
        raise AssertionError(f"keep_ratio={keep_ratio} dropped no token: the proof would prove nothing")
    with masked_reference(model, keep, prune_layer):
        full = forward_logits(model, inputs)
        ref_tokens, ref_scores = greedy(model, inputs, steps)

    real = torch.gather(inputs["attention_mask"].bool(), 1, index) & valid
    expected = torch.gather(full, 1, index[..., None].expand(-1, -1, full.shape[-1]))
    _close("logits at the kept positions", pruned[real], expected[real], atol)
    if not torch.equal(tokens, ref_tokens):
        raise AssertionError(f"greedy tokens differ from the masked reference:\n{tokens}\nvs\n{ref_tokens}")
    _close("logits of the greedy steps", scores, ref_scores, atol)


class _Replay(ScoringMethod):
    """Keeps a given set of positions, and every token beyond its width: replays one prefill's selection on the
    prompt grown by the tokens generated since."""

    name = "replay"

    def __init__(self, keep: torch.Tensor) -> None:
        self.keep = keep

    def select(self, ctx: ScoringContext, counts: torch.Tensor) -> torch.Tensor:
        extra = ctx.audio_mask.shape[1] - self.keep.shape[1]
        return torch.nn.functional.pad(self.keep, (0, extra)) | ~ctx.audio_mask


def assert_cached_equals_recomputed(
    model: nn.Module,
    inputs: Mapping,
    method: str | ScoringMethod = "fastv",
    *,
    keep_ratio: float = 0.4,
    prune_layer: int = DEFAULT_PRUNE_LAYER,
    steps: int = 8,
    atol: float = 1e-5,
) -> None:
    """Decoding from the pruned cache equals recomputing: each of ``steps`` greedy steps' logits equal those of a
    forward without cache over the prompt and the tokens generated so far, pruned to the same kept tokens."""
    with pruning(model, keep_ratio, prune_layer=prune_layer, method=method) as pruner:
        tokens, scores = greedy(model, inputs, steps)
        keep = keep_mask_from_pruner(pruner, inputs["input_ids"].shape[1])
    with pruning(model, keep_ratio, prune_layer=prune_layer, method=_Replay(keep)):
        for step in range(steps):
            grown = {
                **inputs,
                "input_ids": torch.cat([inputs["input_ids"], tokens[:, :step]], 1),
                "attention_mask": torch.cat([inputs["attention_mask"], torch.ones_like(tokens[:, :step])], 1),
            }
            with torch.no_grad():
                recomputed = adapter_for(model).forward_module(**grown, use_cache=False).logits[:, -1]
            _close(f"logits of greedy step {step}", scores[:, step], recomputed, atol, against="recomputation's")


def assert_captured_rows_equal_eager(model: nn.Module, inputs: Mapping, *, prune_layer: int = 3) -> None:
    """The attention rows the engine recomputes from queries and keys at every layer below ``prune_layer`` (a method
    asking for all of them, ``capture_layers``; every text token after the audio) equal those eager attention returns
    with ``output_attentions=True``, and ``ctx.attention`` is layer ``prune_layer - 1``'s. ``model`` must run eager
    attention; its inputs need several query tokens per sample, so that more than the last row is compared."""
    captured: dict = {}

    class Spy(ScoringMethod):
        name = "spy"
        queries = "after_audio"
        capture_layers = prune_layer

        def score(self, ctx: ScoringContext) -> torch.Tensor:
            captured.update(
                attention=ctx.attention, layers=dict(ctx.layer_attention), index=ctx.query_index, valid=ctx.query_mask
            )
            return torch.zeros(ctx.audio_mask.shape)

    module = adapter_for(model).forward_module
    with torch.no_grad():
        attentions = module(**inputs, output_attentions=True).attentions
    with pruning(model, 0.5, prune_layer=prune_layer, method=Spy()):
        forward_logits(model, inputs)
    if sorted(captured["layers"]) != list(range(prune_layer)) or captured["attention"] is not captured["layers"].get(
        prune_layer - 1
    ):
        raise AssertionError(
            f"captured layers {sorted(captured['layers'])}, asked for {list(range(prune_layer))} with layer "
            f"{prune_layer - 1}'s as ctx.attention"
        )
    valid = captured["valid"]
    if not valid.sum() > valid.shape[0]:
        raise AssertionError("the inputs have a single query token per sample: too few rows to compare")
    for index in range(prune_layer):
        layer = attentions[index]
        rows = torch.arange(layer.shape[0])[:, None]
        expected = layer[rows, :, captured["index"]].transpose(1, 2)  # (B, H, Q, L)
        got, want = captured["layers"][index].transpose(1, 2)[valid], expected.transpose(1, 2)[valid]
        _close(f"captured attention rows of layer {index}", got, want, 1e-6, against="eager attention's")


def _close(
    what: str, got: torch.Tensor, want: torch.Tensor, atol: float, against: str = "the masked reference"
) -> None:
    if not torch.allclose(got, want, atol=atol):
        raise AssertionError(f"{what} differ from {against} by up to {(got - want).abs().max():.3g}")
