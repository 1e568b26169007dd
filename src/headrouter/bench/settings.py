"""What ``headrouter bench`` measures: :class:`BenchSettings`, its defaults and the ``--quick`` run."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import torch

from headrouter.adapters import ADAPTERS, ModelAdapter
from headrouter.config import DEFAULT_KEEP_RATIOS, DEFAULT_METHOD, DEFAULT_PRUNE_LAYER
from headrouter.device import resolve_attention, resolve_device
from headrouter.methods import available_methods, get_method

logger = logging.getLogger("headrouter")

DEFAULT_LENGTHS = (750, 1500, 3000, 7500)
DEFAULT_METHODS = ("fastv", "headrouter", DEFAULT_METHOD)
DEFAULT_RUNS = 5
DEFAULT_DECODE_TOKENS = 32
DEFAULT_LAYERS = 3
"""Decoder layers of the built-in model. At Qwen2.5-Omni-3B widths one layer on 7,500 tokens takes ~3 s on an idle
2-core CPU and the default grid runs 66 prefills per audio length; 3 layers is what fits in 15 minutes."""
DEFAULT_BENCH_PRUNE_LAYER = 1
"""K of the built-in model. What a speed benchmark must preserve is the share of layers that run pruned: the real
3B at the library default K = 2 prunes 34 of 36 layers (94%). With 3 layers, K = 1 prunes 2 of 3 (67%), K = 2 only 1
of 3. Measured and ideal use the same split either way; ``--prune-layer 2`` (with ``--layers``) gives the other."""

QUICK_LENGTHS = (750, 1500)
QUICK_KEEP_RATIOS = (1.0, 0.3)
QUICK_RUNS = 3
QUICK_DECODE_TOKENS = 8

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}

DEFAULT_FAMILY = "qwen2_5_omni"
"""The family of the built-in model and of ``config_path`` when none is given (an adapter's ``family``)."""


def benchmark_families() -> list[str]:
    """The families with a built-in benchmark model (an adapter's ``family``)."""
    return [adapter.family for adapter in ADAPTERS if adapter.family]


def family_adapter(family: str) -> type[ModelAdapter]:
    """The adapter class whose ``family`` is ``family``; ``ValueError`` naming the known families otherwise."""
    for adapter in ADAPTERS:
        if adapter.family and adapter.family == family:
            return adapter
    raise ValueError(f"unknown model family {family!r}; known: {', '.join(benchmark_families())}")


def audio_tower_families() -> list[str]:
    """The families whose built-in model can run its audio tower (``--with-audio-tower``)."""
    return [adapter.family for adapter in ADAPTERS if adapter.family and adapter.published_audio_towers]


def default_tower_layers(adapter: type[ModelAdapter], shape: str, num_layers: int) -> int:
    """Tower layers that keep the published tower-to-decoder depth ratio at ``num_layers`` decoder layers (at least
    1): the tower's share of prefill is then the full model's (32 tower layers for 36 decoder layers; 3 for 3)."""
    tower = adapter.published_audio_towers[shape]["num_layers"]
    decoder = adapter.published_shapes[shape]["num_hidden_layers"]
    return max(1, round(tower * num_layers / decoder))


@dataclass
class BenchSettings:
    """What to measure. The defaults are the full run; :meth:`quick` the short one."""

    lengths: tuple[int, ...] = DEFAULT_LENGTHS
    keep_ratios: tuple[float, ...] = DEFAULT_KEEP_RATIOS
    methods: tuple[str, ...] = DEFAULT_METHODS
    runs: int = DEFAULT_RUNS
    decode_tokens: int = DEFAULT_DECODE_TOKENS
    num_layers: int | None = None
    """Decoder layers of the built-in model (default :data:`DEFAULT_LAYERS`); not allowed with a config or model."""
    prune_layer: int | None = None
    """K; default :data:`DEFAULT_BENCH_PRUNE_LAYER` for the built-in model, the library's default (2) otherwise."""
    dtype: str = "bfloat16"
    attn_implementation: str = "auto"
    """``auto``: flash-attention-2 on a GPU where it is installed, else sdpa (:mod:`headrouter.device`)."""
    device: str = "auto"
    """``auto``: the GPU when torch sees one, else the CPU; the resolved name is kept."""
    with_audio_tower: bool = False
    """Run the audio tower on ``input_features`` (end to end) instead of the decoder alone."""
    tower_layers: int | None = None
    """Audio-tower layers of the built-in model with ``with_audio_tower``; default the published tower depth scaled
    by ``num_layers`` over the published decoder depth (:func:`default_tower_layers`)."""
    unwrapped: bool = True
    """Time the unwrapped model too; without it, keep 1.0 of the first method is the unpruned prefill (saves a
    quarter of a long run; speed-ups are against keep 1.0 of the same method either way)."""
    table: str | None = None
    """A HeadTable directory for the headrouter method; default one calibrated on the benchmark's own prompts."""
    config_path: str | None = None
    model_path: str | None = None
    family: str | None = None
    """The family of the built-in model or of ``config_path`` (an adapter's ``family``; default
    :data:`DEFAULT_FAMILY`). A checkpoint's family comes from its ``config.json``; one given with it must match."""
    shape: str | None = None
    """The published shape (``"3B"``) of the built-in model; default the family's first."""
    memory: bool = True
    """Measure scoring memory and the full-attention reference (needs ``torch.profiler``)."""
    seed: int = 0
    threads: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        self.lengths = tuple(int(n) for n in self.lengths)
        self.methods = tuple(self.methods)
        ratios = sorted({float(r) for r in self.keep_ratios}, reverse=True)
        if not self.lengths or min(self.lengths) < 1:
            raise ValueError(f"audio lengths must be >= 1 token, got {self.lengths}")
        if not ratios or not all(0.0 < r <= 1.0 for r in ratios):
            raise ValueError(f"keep ratios must be in (0, 1], got {self.keep_ratios}")
        if ratios[0] != 1.0:
            logger.info("bench: adding keep ratio 1.0, the reference for speed-ups")
            ratios.insert(0, 1.0)
        self.keep_ratios = tuple(ratios)
        if not self.methods:
            raise ValueError(f"no methods given; known: {', '.join(available_methods())}")
        try:
            scorers = [get_method(spec) for spec in self.methods]
        except (TypeError, ValueError) as error:
            raise ValueError(f"methods: {error}") from None
        if self.runs < 1:
            raise ValueError(f"runs must be >= 1, got {self.runs}")
        if self.decode_tokens != 0 and self.decode_tokens < 2:
            raise ValueError(f"decode tokens must be 0 (no decode timing) or >= 2, got {self.decode_tokens}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        device = resolve_device(self.device)
        self.device = str(device)
        self.attn_implementation = resolve_attention(self.attn_implementation, device)
        if self.config_path and self.model_path:
            raise ValueError("give either a config or a model, not both")
        if self.num_layers is not None and (self.config_path or self.model_path):
            raise ValueError("the number of layers applies to the built-in model only; set it in the config instead")
        if self.shape is not None and (self.config_path or self.model_path):
            raise ValueError("the shape applies to the built-in model only")
        if self.family is not None or not self.model_path:
            self.family = self.family or DEFAULT_FAMILY
            adapter = family_adapter(self.family)
            if self.shape is not None and self.shape not in adapter.published_shapes:
                raise ValueError(
                    f"{adapter.title or adapter.family} has no published shape {self.shape!r}; "
                    f"known: {', '.join(adapter.published_shapes)}"
                )
        if self.num_layers is not None and self.num_layers < 2:
            raise ValueError(f"the model needs >= 2 decoder layers, got {self.num_layers}")
        self._check_audio_tower()
        if self.table is not None and not any(scorer.uses_table for scorer in scorers):
            raise ValueError("a head table is for methods that use one (headrouter), and none is among the methods")
        if self.prune_layer is None:
            builtin = not (self.config_path or self.model_path)
            self.prune_layer = DEFAULT_BENCH_PRUNE_LAYER if builtin else DEFAULT_PRUNE_LAYER

    def _check_audio_tower(self) -> None:
        if self.tower_layers is not None and not self.with_audio_tower:
            raise ValueError("tower layers apply with the audio tower (with_audio_tower) only")
        if self.tower_layers is not None and (self.config_path or self.model_path):
            raise ValueError("the number of tower layers applies to the built-in model only; set it in the config")
        if self.tower_layers is not None and self.tower_layers < 1:
            raise ValueError(f"the audio tower needs >= 1 layer, got {self.tower_layers}")
        if not self.with_audio_tower or self.model_path:  # a checkpoint's family is checked where it is read
            return
        adapter = family_adapter(self.family)
        if not adapter.published_audio_towers:
            raise ValueError(
                f"{adapter.title or adapter.family} has no end-to-end benchmark model; with the audio tower: "
                f"{', '.join(audio_tower_families())}"
            )
        if not self.config_path and self.tower_layers is None:
            shape = self.shape or next(iter(adapter.published_shapes))
            self.tower_layers = default_tower_layers(adapter, shape, self.num_layers or DEFAULT_LAYERS)

    @classmethod
    def quick(cls, **overrides) -> BenchSettings:
        """The ``--quick`` run: two short lengths, keep 1.0 and 0.3, 3 runs, 8 decode tokens."""
        values = dict(
            lengths=QUICK_LENGTHS, keep_ratios=QUICK_KEEP_RATIOS, runs=QUICK_RUNS, decode_tokens=QUICK_DECODE_TOKENS
        )
        values.update(overrides)
        return cls(**values)

    def to_dict(self) -> dict:
        """The settings as a JSON-serialisable dict (the results record them)."""
        return asdict(self)
