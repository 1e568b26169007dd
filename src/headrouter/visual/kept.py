"""Which audio tokens each method keeps for one clip: one prefill per method, read from the router's records.

Audio token ``i`` of a clip of ``n`` tokens covers ``[i / rate, (i + 1) / rate)`` seconds, where ``rate`` is the
clip's tokens per second as the model's processor made them (``n`` over the clip's duration, unless given): the
adapters name no rate of their own, and the count the processor produced is the one the model saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from headrouter.adapters import adapter_for
from headrouter.api import pruning
from headrouter.audio import load_audio, require_audio_tokens
from headrouter.config import DEFAULT_PRUNE_LAYER
from headrouter.methods import ScoringMethod, get_method
from headrouter.methods.headrouter.table import HeadTable


@dataclass
class MethodKept:
    """The audio tokens one method kept."""

    method: str
    """The method as given: its spec (``headrouter[diversity=0.95]``), or the name of a method given as an object."""
    indices: list[int]
    """Audio token indices (0 = the clip's first audio token), ascending."""
    starts: list[float]
    """Start time in seconds of each kept token: ``index / tokens_per_second``."""
    details: dict
    """What the method reported for the clip (``headrouter``: its task mixture)."""


@dataclass
class KeptTokens:
    """One clip, its audio tokens, and the tokens each method kept at ``keep_ratio``."""

    wav: np.ndarray
    sampling_rate: int
    prompt: str
    keep_ratio: float
    prune_layer: int
    audio_tokens: int
    tokens_per_second: float
    methods: list[MethodKept]

    @property
    def seconds(self) -> float:
        """The clip's duration."""
        return self.wav.size / self.sampling_rate


def kept_tokens(
    model: nn.Module,
    processor,
    audio: str | Path | np.ndarray,
    prompt: str,
    methods: Sequence[str | ScoringMethod],
    keep_ratio: float,
    *,
    table: HeadTable | str | Path | None = None,
    prune_layer: int = DEFAULT_PRUNE_LAYER,
    source_rate: int | None = None,
    tokens_per_second: float | None = None,
) -> KeptTokens:
    """Run one prefill of ``model`` on (``audio``, ``prompt``) per method at ``keep_ratio`` and return the audio
    tokens each kept, with their times.

    ``methods`` are method objects or specs (``"dart"``, ``"headrouter[diversity=0.95]"``; a spec's row is labelled
    by the spec as written). ``audio`` is a file or a 1-D array recorded at ``source_rate``. ``table`` goes to the
    methods that use one (``headrouter``); without it they run as :func:`headrouter.wrap` runs them. ``model`` is left
    as it was (wrapped or not). ``tokens_per_second`` defaults to the clip's audio token count over its duration.
    """
    if not 0.0 < keep_ratio <= 1.0:
        raise ValueError(f"keep_ratio must be in (0, 1], got {keep_ratio}")
    if not methods:
        raise ValueError("methods must name at least one scoring method")
    if tokens_per_second is not None and not tokens_per_second > 0:
        raise ValueError(f"tokens_per_second must be > 0, got {tokens_per_second}")
    if isinstance(table, (str, Path)):
        table = HeadTable.from_pretrained(table)
    adapter = adapter_for(model)
    rate = adapter.sampling_rate(processor)
    wav = load_audio(audio, rate, source_rate=source_rate)
    module = adapter.forward_module
    inputs = adapter.build_inputs(processor, [wav], [prompt]).to(device=module.device, dtype=module.dtype)
    audio_positions = adapter.audio_mask(inputs["input_ids"])[0]
    require_audio_tokens(audio_positions, wav.size / rate)
    positions = audio_positions.nonzero().squeeze(-1)
    n_audio = positions.numel()
    per_second = tokens_per_second if tokens_per_second is not None else n_audio / (wav.size / rate)
    kept = []
    for given in methods:
        scorer = get_method(given)  # a bad spec fails here
        method = scorer.with_table(table) if table is not None and scorer.uses_table else given
        label = given if isinstance(given, str) else scorer.name
        with pruning(model, keep_ratio, prune_layer=prune_layer, method=method) as router, torch.inference_mode():
            module(**inputs)
            record = router.records[0]
        indices = torch.searchsorted(positions, torch.tensor(record.kept_positions, device=positions.device)).tolist()
        kept.append(MethodKept(label, indices, [i / per_second for i in indices], dict(record.details)))
    return KeptTokens(wav, rate, prompt, keep_ratio, prune_layer, n_audio, per_second, kept)
