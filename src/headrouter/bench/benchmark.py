"""``headrouter bench``: prefill speed, KV-cache bytes and scoring cost of audio-token pruning, beside the ideal.

What is measured, per audio length and per cell (method x keep ratio, plus the unwrapped model):

- **prefill**: wall time of one thinker forward (``torch.no_grad``, ``use_cache=True`` as ``generate`` does),
  median of ``runs``. Every cell is first warmed up once; the timed runs of one audio length are then
  interleaved round-robin over its cells, so that slow periods of a shared machine hit every cell alike.
  Speed-up is against keep ratio 1.0 of the same method in the same run; the FLOP-ideal speed-up for the
  same layer split and token counts comes from :mod:`headrouter.bench.flops`.
- **decoder only**: the prompt holds the audio placeholders but no ``input_features``, so the audio tower
  does not run; the placeholders' own embeddings stand in for the audio features. What prefill costs in
  the decoder, and what pruning saves there, does not depend on the values of those vectors.
- **scoring time**: ``model.headrouter.records[0].scoring_seconds`` (capture at layer K-1 + scoring and
  selection at layer K), median over the timed runs, as a share of the unwrapped model's prefill.
- **scoring memory**: bytes allocated through PyTorch's CPU allocator, as reported by
  ``torch.profiler`` with ``profile_memory=True``, in two windows of the warm-up prefill: the capture hook
  on layer K-1's attention, and the pruning hook on layer K. Peak above the level at the start of the
  window; the rows kept from the first window to the second count towards the second. Compared with the
  usual research approach, eager attention of layer K-1 returning its ``heads x seq x seq`` weights (as
  ``output_attentions`` does), measured the same way on the same hidden states in the same run, minus
  what the same layer needs with sdpa. oneDNN's internal scratch buffers and Python objects are not seen.
- **KV cache**: sum of ``nbytes`` of every layer's keys and values in the cache the prefill returns,
  against ``K x full length + (N - K) x kept length``.
- **decode**: wall time per new token of ``generate`` (greedy, ``min_new_tokens = max_new_tokens``), the
  median over the decode steps after the first token (the first token comes out of prefill), taken from the
  times at which ``generate`` hands each token to a streamer. This ``generate`` is the cell's warm-up.

Functions here return data and log through ``logging.getLogger("headrouter")``; ``headrouter bench`` (cli.py)
prints the report.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn
from tqdm.auto import tqdm
from transformers.generation.streamers import BaseStreamer

from headrouter.adapters import ModelAdapter, adapter_for
from headrouter.api import unwrap, wrap
from headrouter.bench import flops
from headrouter.cli.argtypes import items, keep_ratios, method_names, number, positive_int
from headrouter.config import DEFAULT_PRUNE_LAYER
from headrouter.methods import ScoringMethod, available_methods, get_method

if TYPE_CHECKING:
    from transformers import Qwen2_5OmniThinkerConfig

logger = logging.getLogger("headrouter")

SCHEMA = "headrouter-bench/1"

DEFAULT_LENGTHS = (750, 1500, 3000, 7500)
DEFAULT_KEEP_RATIOS = (1.0, 0.7, 0.5, 0.3, 0.1)
DEFAULT_METHODS = ("fastv", "headrouter")
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

TEXT_BEFORE = 4
"""Text tokens before ``<audio_bos>`` in the benchmark prompt."""
TEXT_AFTER = 16
"""Text tokens of instruction after ``<audio_eos>``."""

QWEN25_OMNI_3B = {
    "hidden_size": 2048,
    "num_attention_heads": 16,
    "num_key_value_heads": 2,
    "intermediate_size": 11008,
    "num_hidden_layers": 36,
    "rope_theta": 1_000_000.0,
    "mrope_section": [16, 24, 24],
}
"""The thinker decoder of Qwen2.5-Omni-3B (head dim 128); the built-in model uses these widths."""

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}

# the four figures the benchmark is judged on
TARGET_SPEED = {"audio_tokens": 3000, "keep_ratio": 0.3, "min_share_of_ideal": 0.90}
TARGET_SCORING_TIME = {"audio_tokens": 7500, "max_share_of_prefill": 0.02}
TARGET_SCORING_MEMORY = {"audio_tokens": 7500, "max_share_of_reference": 0.01}
TARGET_KV = {"max_relative_error": 0.01}

MEMORY_HEADROOM = 0.8
"""Run a size only if its estimated peak fits in this share of the available memory."""

MIB = 2**20


# ---------------------------------------------------------------------- settings


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
    attn_implementation: str = "sdpa"
    config_path: str | None = None
    model_path: str | None = None
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
        unknown = [m for m in self.methods if m not in available_methods()]
        if not self.methods or unknown:
            raise ValueError(
                f"unknown or no methods {unknown or self.methods}; known: {', '.join(available_methods())}"
            )
        if self.runs < 1:
            raise ValueError(f"runs must be >= 1, got {self.runs}")
        if self.decode_tokens != 0 and self.decode_tokens < 2:
            raise ValueError(f"decode tokens must be 0 (no decode timing) or >= 2, got {self.decode_tokens}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.attn_implementation not in ("sdpa", "eager"):
            raise ValueError(f"attention must be 'sdpa' or 'eager', got {self.attn_implementation!r}")
        if self.config_path and self.model_path:
            raise ValueError("give either a config or a model, not both")
        if self.num_layers is not None and (self.config_path or self.model_path):
            raise ValueError("the number of layers applies to the built-in model only; set it in the config instead")
        if self.num_layers is not None and self.num_layers < 2:
            raise ValueError(f"the model needs >= 2 decoder layers, got {self.num_layers}")
        if self.prune_layer is None:
            builtin = not (self.config_path or self.model_path)
            self.prune_layer = DEFAULT_BENCH_PRUNE_LAYER if builtin else DEFAULT_PRUNE_LAYER

    @classmethod
    def quick(cls, **overrides) -> BenchSettings:
        """The ``--quick`` run: two short lengths, keep 1.0 and 0.3, 3 runs, 8 decode tokens."""
        values = dict(
            lengths=QUICK_LENGTHS, keep_ratios=QUICK_KEEP_RATIOS, runs=QUICK_RUNS, decode_tokens=QUICK_DECODE_TOKENS
        )
        values.update(overrides)
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------- model and prompt


def bench_thinker_config(num_layers: int = DEFAULT_LAYERS, vocab_size: int = 256) -> Qwen2_5OmniThinkerConfig:
    """A thinker config with the decoder widths of Qwen2.5-Omni-3B, ``num_layers`` layers, a small vocabulary
    and a tiny audio tower (which the benchmark never runs);
    special ids as in :mod:`headrouter.adapters.qwen2_5_omni.tiny`."""
    # the model code is imported where a model is built, so that ``headrouter --version`` does not load it
    from transformers import Qwen2_5OmniThinkerConfig

    from headrouter.adapters.qwen2_5_omni import tiny

    shape = QWEN25_OMNI_3B
    config = Qwen2_5OmniThinkerConfig(
        audio_config=dict(
            num_mel_bins=128, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=64, d_model=32,
            output_dim=shape["hidden_size"], n_window=100, max_source_positions=1500,
        ),
        vision_config=dict(
            depth=1, hidden_size=16, intermediate_size=16, num_heads=2, out_hidden_size=shape["hidden_size"],
            fullatt_block_indexes=[0],
        ),
        text_config=dict(
            vocab_size=vocab_size, hidden_size=shape["hidden_size"], intermediate_size=shape["intermediate_size"],
            num_hidden_layers=num_layers, num_attention_heads=shape["num_attention_heads"],
            num_key_value_heads=shape["num_key_value_heads"], max_position_embeddings=32768,
            pad_token_id=tiny.PAD_TOKEN, rms_norm_eps=1e-6,
            rope_parameters={
                "rope_type": "default", "rope_theta": shape["rope_theta"], "mrope_section": shape["mrope_section"]
            },
        ),
        audio_token_index=tiny.AUDIO_TOKEN, image_token_index=tiny.IMAGE_TOKEN, video_token_index=tiny.VIDEO_TOKEN,
        audio_start_token_id=tiny.AUDIO_BOS, audio_end_token_id=tiny.AUDIO_EOS, user_token_id=1,
    )  # fmt: skip
    config.vision_start_token_id = tiny.VISION_BOS
    return config


def load_model(settings: BenchSettings) -> tuple[nn.Module, dict]:
    """The thinker to benchmark, in eval mode, and a description of where it came from."""
    from transformers import (
        Qwen2_5OmniForConditionalGeneration,
        Qwen2_5OmniThinkerConfig,
        Qwen2_5OmniThinkerForConditionalGeneration,
    )

    from headrouter.adapters.qwen2_5_omni import tiny

    dtype = DTYPES[settings.dtype]
    attn = settings.attn_implementation
    torch.manual_seed(settings.seed)
    if settings.model_path:
        path = Path(settings.model_path)
        model_type = json.loads((path / "config.json").read_text()).get("model_type")
        cls = (
            Qwen2_5OmniForConditionalGeneration
            if model_type == "qwen2_5_omni"
            else Qwen2_5OmniThinkerForConditionalGeneration
        )
        loaded = cls.from_pretrained(path, dtype=dtype, attn_implementation=attn, local_files_only=True)
        model = getattr(loaded, "thinker", loaded)
        source, random_weights = f"checkpoint {path}", False
    else:
        if settings.config_path:
            data = json.loads(Path(settings.config_path).read_text())
            data = data.get("thinker_config", data)  # a full Qwen2.5-Omni config holds the thinker's
            config = Qwen2_5OmniThinkerConfig.from_dict(data)
            source = f"random weights from config {settings.config_path}"
        else:
            config = bench_thinker_config(settings.num_layers or DEFAULT_LAYERS)
            source = "random weights, Qwen2.5-Omni-3B decoder widths (built-in config)"
        if getattr(config, "vision_start_token_id", None) is None:
            config.vision_start_token_id = tiny.VISION_BOS  # read unconditionally by get_rope_index
        model = Qwen2_5OmniThinkerForConditionalGeneration._from_config(config, attn_implementation=attn, dtype=dtype)
        random_weights = True
    model.eval()
    if random_weights:
        model.generation_config.suppress_tokens = _special_ids(model)  # a real model never writes placeholders
    shape = flops.DecoderShape.from_config(model.config.get_text_config())
    info = {
        "source": source,
        "class": type(model).__name__,
        "random_weights": random_weights,
        "decoder": shape.to_dict(),
        "vocab_size": int(model.config.get_text_config().vocab_size),
        "parameters": sum(p.numel() for p in model.parameters()),
        "dtype": settings.dtype,
        "attn_implementation": attn,
    }
    return model, info


def make_inputs(model: nn.Module, audio_tokens: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """One prompt: ``TEXT_BEFORE`` text tokens, ``<audio_bos>``, ``audio_tokens`` placeholders, ``<audio_eos>``,
    ``TEXT_AFTER`` text tokens; ``input_ids`` and ``attention_mask`` only (no ``input_features``)."""
    config = model.config
    special = set(_special_ids(model))
    vocab = int(config.get_text_config().vocab_size)
    ordinary = torch.tensor([i for i in range(2, min(vocab, 1000)) if i not in special])
    generator = torch.Generator().manual_seed(seed)
    text = ordinary[torch.randint(len(ordinary), (TEXT_BEFORE + TEXT_AFTER,), generator=generator)].tolist()
    audio = [int(config.audio_start_token_id)] + [int(config.audio_token_id)] * audio_tokens
    ids = text[:TEXT_BEFORE] + audio + [int(config.audio_end_token_id)] + text[TEXT_BEFORE:]
    input_ids = torch.tensor([ids])
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}


def _special_ids(model: nn.Module) -> list[int]:
    config = model.config
    names = ("audio_token_id", "image_token_id", "video_token_id", "audio_start_token_id", "audio_end_token_id")
    ids = [getattr(config, n, None) for n in (*names, "vision_start_token_id")]
    ids.append(config.get_text_config().pad_token_id)
    return sorted({int(i) for i in ids if i is not None})


# ---------------------------------------------------------------------- measuring


def prefill(model: nn.Module, inputs: dict) -> tuple[float, float, object]:
    """One prefill forward: wall seconds, process CPU seconds, and the model output (with its cache)."""
    with torch.no_grad():
        cpu, start = time.process_time(), time.perf_counter()
        output = model(**inputs, use_cache=True)
        wall = time.perf_counter() - start
    return wall, time.process_time() - cpu, output


class _TokenClock(BaseStreamer):
    """Records when ``generate`` hands over the prompt and each new token."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def put(self, value) -> None:
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


def decode_seconds_per_token(model: nn.Module, inputs: dict, new_tokens: int) -> float:
    """Wall seconds per decode step of greedy ``generate`` producing exactly ``new_tokens`` tokens.

    The first token comes from prefill; the median is over the ``new_tokens - 1`` steps after it (the median,
    so that a step preempted by another process on a shared machine does not move it).
    """
    clock = _TokenClock()
    pad = model.config.get_text_config().pad_token_id
    with torch.no_grad():
        model.generate(
            **inputs,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            streamer=clock,
            pad_token_id=pad if pad is not None else 0,
        )
    # times[0]: the prompt, before prefill; times[1]: the first token, after prefill; then one per decode step
    steps = [b - a for a, b in zip(clock.times[1:], clock.times[2:], strict=False)]
    if not steps:
        raise RuntimeError(f"generate produced {len(clock.times) - 1} tokens, expected {new_tokens}")
    return statistics.median(steps)


def output_cache(output):
    """The cache a forward returned: ``output.cache`` from transformers 5.24 on (where ``past_key_values`` warns),
    ``output.past_key_values`` before."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def cache_bytes(cache) -> int:
    """Bytes of all keys and values in a transformers cache (``DynamicCache``) or a legacy tuple cache."""
    layers = getattr(cache, "layers", None)
    if layers is not None:
        pairs = [(layer.keys, layer.values) for layer in layers]
    else:
        pairs = [(k, v) for k, v, *_ in cache]
    return sum(t.nbytes for pair in pairs for t in pair if isinstance(t, torch.Tensor))


class AllocationWindow:
    """Peak bytes allocated through PyTorch's CPU allocator between :meth:`start` and :meth:`stop`.

    Uses ``torch.profiler`` with ``profile_memory=True``: every allocation and free the allocator reports in
    the window, summed in time order. The peak is above the level at :meth:`start` (frees of older tensors
    count as negative); :meth:`stop` returns ``(peak, net)`` where ``net`` is what is still allocated.
    """

    def __init__(self) -> None:
        self._profiler = None

    def start(self) -> None:
        self._profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True)
        with _native_stderr_silenced():
            self._profiler.start()

    def stop(self) -> tuple[int, int]:
        profiler, self._profiler = self._profiler, None
        with _native_stderr_silenced():
            profiler.stop()
        cpu = torch.autograd.DeviceType.CPU
        events = sorted(
            (e.start_ns(), e.nbytes())
            for e in profiler.profiler.kineto_results.events()
            if e.name() == "[memory]" and e.device_type() == cpu
        )
        level = peak = 0
        for _, nbytes in events:
            level += nbytes
            peak = max(peak, level)
        return peak, level


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Silence file descriptor 2 for a moment: the profiler's C++ side logs every start and stop there, which
    would tear through the progress bar. A no-op where stderr has no file descriptor (e.g. captured)."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


class ScoringMemoryProbe:
    """Measures the allocations of the router's capture hook (layer K-1 attention) and pruning hook (layer K)
    during the next prefill. Install after :func:`headrouter.wrap`; its hooks run right before and right after
    the router's own."""

    def __init__(self, adapter: ModelAdapter, prune_layer: int) -> None:
        self.windows: dict[str, tuple[int, int]] = {}
        self._window = AllocationWindow()
        self._active: str | None = None
        capture = adapter.attention(adapter.layers[prune_layer - 1])
        cut = adapter.layers[prune_layer]
        self._handles = [
            capture.register_forward_pre_hook(lambda *a: self._start("capture"), prepend=True),
            capture.register_forward_pre_hook(lambda *a: self._stop("capture")),
            cut.register_forward_pre_hook(lambda *a: self._start("select"), prepend=True),
            cut.register_forward_pre_hook(lambda *a: self._stop("select")),
        ]

    def _start(self, name: str) -> None:
        if name not in self.windows and self._active is None:
            self._active = name
            self._window.start()

    def _stop(self, name: str) -> None:
        if self._active == name:
            self.windows[name] = self._window.stop()
            self._active = None

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        if self._active is not None:
            self._window.stop()
            self._active = None

    def result(self) -> dict | None:
        """Peak extra bytes of the scoring step, and the two windows it is made of (None if they did not run)."""
        if "select" not in self.windows:
            return None
        capture_peak, capture_net = self.windows.get("capture", (0, 0))
        select_peak, select_net = self.windows["select"]
        return {
            "peak_bytes": max(capture_peak, capture_net + select_peak),
            "capture_peak_bytes": capture_peak,
            "capture_held_bytes": capture_net,
            "select_peak_bytes": select_peak,
        }


class AttentionInputs:
    """Keeps the inputs of the next call of one attention module (normed hidden states and rotary embeddings)."""

    def __init__(self, attention: nn.Module) -> None:
        self.hidden_states: torch.Tensor | None = None
        self.position_embeddings = None
        self._handle = attention.register_forward_pre_hook(self._keep, with_kwargs=True)

    def _keep(self, module, args, kwargs) -> None:
        if self.hidden_states is None:
            self.hidden_states = kwargs.get("hidden_states", args[0] if args else None)
            self.position_embeddings = kwargs.get("position_embeddings")

    def remove(self) -> None:
        self._handle.remove()


def full_attention_reference(attention: nn.Module, hidden_states: torch.Tensor, position_embeddings) -> dict:
    """Peak allocation of one attention layer computed the research way, eager with its weights returned, and
    the same layer with sdpa; both from the same inputs, with transformers' own attention functions."""
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    modeling = sys.modules[type(attention).__module__]
    batch, seq, _ = hidden_states.shape
    dtype = hidden_states.dtype
    mask = torch.full((seq, seq), torch.finfo(dtype).min, dtype=dtype).triu(1)[None, None]  # eager's causal mask

    def run(kind: str) -> tuple[int, int]:
        window = AllocationWindow()
        with torch.no_grad():
            window.start()
            shape = (batch, seq, -1, attention.head_dim)
            query = attention.q_proj(hidden_states).view(shape).transpose(1, 2)
            key = attention.k_proj(hidden_states).view(shape).transpose(1, 2)
            value = attention.v_proj(hidden_states).view(shape).transpose(1, 2)
            query, key = modeling.apply_rotary_pos_emb(query, key, *position_embeddings)
            if kind == "eager":
                out, weights = modeling.eager_attention_forward(attention, query, key, value, mask, attention.scaling)
            else:
                out, weights = ALL_ATTENTION_FUNCTIONS["sdpa"](
                    attention, query, key, value, None, scaling=attention.scaling, is_causal=True
                )
            out = attention.o_proj(out.reshape(batch, seq, -1))
            peak, _ = window.stop()
            weight_bytes = weights.nbytes if isinstance(weights, torch.Tensor) else 0
            del query, key, value, out, weights
        return peak, weight_bytes

    eager_peak, weight_bytes = run("eager")
    sdpa_peak, _ = run("sdpa")
    return {
        "eager_peak_bytes": eager_peak,
        "sdpa_peak_bytes": sdpa_peak,
        "extra_bytes": eager_peak - sdpa_peak,
        "weights_bytes": weight_bytes,
        "mask_bytes": mask.nbytes,
    }


class LoadMeter:
    """How busy the machine's CPUs were with *other* processes between :meth:`start` and :meth:`stop`.

    Busy time of all CPUs (``/proc/stat``) minus this process's CPU time, over wall time x cores; None where
    ``/proc/stat`` is not readable. A shared machine makes timings noisy; the report says how shared it was.
    """

    def start(self) -> None:
        self._start = (_busy_seconds(), time.process_time(), time.perf_counter())

    def stop(self) -> float | None:
        busy, cpu, wall = self._start
        now = _busy_seconds()
        if busy is None or now is None:
            return None
        elapsed = (time.perf_counter() - wall) * (os.cpu_count() or 1)
        other = (now - busy) - (time.process_time() - cpu)
        return max(0.0, other / elapsed) if elapsed > 0 else None


def _busy_seconds() -> float | None:
    try:
        with open("/proc/stat", encoding="utf-8") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal: everything but idle and iowait
        return (sum(fields[:3]) + sum(fields[5:8])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (``MemAvailable`` of /proc/meminfo, else free pages)."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def estimate_prefill_bytes(shape: flops.DecoderShape, vocab_size: int, tokens: int, itemsize: int) -> int:
    """A generous estimate of the activations of one prefill: MLP and attention temporaries of one layer, fp32
    logits, the KV cache of every layer (weights are already loaded)."""
    layer = tokens * itemsize * (4 * shape.intermediate_size + 12 * shape.hidden_size)
    kv = 2 * tokens * shape.num_layers * shape.num_kv_heads * shape.head_dim * itemsize
    return layer + 8 * tokens * vocab_size + kv


def estimate_reference_bytes(shape: flops.DecoderShape, tokens: int, itemsize: int) -> int:
    """Peak of eager attention with weights: scores and scaled scores, their fp32 softmax and its cast, plus the
    additive mask."""
    return shape.num_heads * tokens * tokens * (2 * itemsize + 4) + tokens * tokens * itemsize


# ---------------------------------------------------------------------- the run


@dataclass
class _Cell:
    method: str  # "none" for the unwrapped model
    keep_ratio: float | None
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    scoring: list[float] = field(default_factory=list)
    tokens_after: int | None = None
    audio_tokens_after: int | None = None
    kv_bytes: int | None = None
    decode: float | None = None
    memory: dict | None = None


def run_benchmark(settings: BenchSettings) -> dict:
    """Run the whole grid; returns every figure as a JSON-serialisable dict (see the module docstring)."""
    began = time.perf_counter()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    model, model_info = load_model(settings)
    adapter = adapter_for(model)
    shape = flops.DecoderShape.from_config(adapter.text_config)
    k = settings.prune_layer
    if not 1 <= k <= shape.num_layers - 1:
        raise ValueError(f"prune layer must be in 1..{shape.num_layers - 1} for {shape.num_layers} layers, got {k}")
    itemsize = DTYPES[settings.dtype].itemsize
    model_info.update(prune_layer=k, layer_split=_layer_split(shape.num_layers, k))
    scorers = {name: get_method(name) for name in settings.methods}
    notes: list[str] = []
    lengths: list[dict] = []
    cells: list[dict] = []

    plan = []
    for n in settings.lengths:
        tokens = n + TEXT_BEFORE + TEXT_AFTER + 2
        need = estimate_prefill_bytes(shape, model_info["vocab_size"], tokens, itemsize)
        free = available_memory()
        if free is not None and need > MEMORY_HEADROOM * free:
            note = f"{n} audio tokens skipped: prefill needs ~{need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB available"
            logger.warning("bench: %s", note)
            notes.append(note)
            lengths.append({"audio_tokens": n, "sequence_tokens": tokens, "skipped": True, "note": note})
        else:
            plan.append(n)
    load = LoadMeter()
    load.start()
    per_length = (1 + len(settings.methods) * len(settings.keep_ratios)) * (1 + settings.runs)
    with tqdm(total=per_length * len(plan), desc="bench", unit="pass", disable=not settings.progress) as bar:
        for n in plan:
            summary, rows = _bench_length(model, adapter, shape, scorers, settings, n, itemsize, bar, notes)
            lengths.append(summary)
            cells.extend(rows)
    unwrap(model)
    lengths.sort(key=lambda item: item["audio_tokens"])
    machine = machine_info()
    machine["other_processes_cpu_share"] = load.stop()
    results = {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "model": model_info,
        "settings": settings.to_dict(),
        "prompt": {"text_before": TEXT_BEFORE, "text_after": TEXT_AFTER, "audio_features": False},
        "lengths": lengths,
        "cells": cells,
        "notes": notes,
    }
    results["targets"] = evaluate_targets(results)
    results["total_seconds"] = time.perf_counter() - began
    return results


def _bench_length(model, adapter, shape, scorers, settings, n, itemsize, bar, notes) -> tuple[dict, list[dict]]:
    k = settings.prune_layer
    inputs = make_inputs(model, n, settings.seed)
    seq = int(inputs["input_ids"].shape[1])
    cells = [_Cell("none", None)] + [_Cell(m, r) for m in settings.methods for r in settings.keep_ratios]
    free = available_memory()
    want_reference = settings.memory
    if want_reference and free is not None:
        need = estimate_reference_bytes(shape, seq, itemsize)
        if need > MEMORY_HEADROOM * free:
            note = (
                f"{n} audio tokens: full-attention reference skipped, it needs ~{need / 2**30:.1f} GiB "
                f"({free / 2**30:.1f} GiB available)"
            )
            logger.warning("bench: %s", note)
            notes.append(note)
            want_reference = False

    # warm-up round: generate (decode timing), scoring memory, and the reference's inputs
    reference_inputs = None
    for cell in cells:
        bar.set_description(f"{n} tokens, warm-up {_cell_name(cell)}")
        _apply(model, cell, scorers, k)
        probe = ScoringMemoryProbe(adapter, k) if settings.memory and cell.method != "none" else None
        if want_reference and cell.method == "none":
            reference_inputs = AttentionInputs(adapter.attention(adapter.layers[k - 1]))
        try:
            if settings.decode_tokens:
                cell.decode = decode_seconds_per_token(model, inputs, settings.decode_tokens)
            else:
                prefill(model, inputs)
        finally:
            if probe is not None:
                probe.remove()
                cell.memory = probe.result()
            if reference_inputs is not None:
                reference_inputs.remove()
        bar.update()
    unwrap(model)

    reference = None
    if reference_inputs is not None and reference_inputs.hidden_states is not None:
        bar.set_description(f"{n} tokens, full-attention reference")
        attention = adapter.attention(adapter.layers[k - 1])
        reference = full_attention_reference(
            attention, reference_inputs.hidden_states, reference_inputs.position_embeddings
        )
        reference["analytic_weights_bytes"] = shape.num_heads * seq * seq * itemsize
        del reference_inputs

    # timed rounds, interleaved over the cells
    load = LoadMeter()
    load.start()
    for run in range(settings.runs):
        for cell in cells:
            bar.set_description(f"{n} tokens, run {run + 1}/{settings.runs}")
            _apply(model, cell, scorers, k)
            wall, cpu, output = prefill(model, inputs)
            cell.wall.append(wall)
            cell.cpu.append(cpu)
            router = getattr(model, "headrouter", None)
            if router is not None:
                cell.scoring.append(router.records[0].scoring_seconds)
            if run == 0:
                cell.kv_bytes = cache_bytes(output_cache(output))
                if router is not None:
                    cell.tokens_after = int(router.kept_index.shape[1])
                    cell.audio_tokens_after = router.records[0].audio_tokens_after
                else:
                    cell.tokens_after, cell.audio_tokens_after = seq, n
            del output
            bar.update()
    unwrap(model)
    summary, rows = _summarise(cells, shape, settings, n, seq, itemsize, reference)
    summary["other_processes_cpu_share"] = load.stop()
    return summary, rows


def _apply(model: nn.Module, cell: _Cell, scorers: dict[str, ScoringMethod], prune_layer: int) -> None:
    unwrap(model)
    if cell.method != "none":
        wrap(model, cell.keep_ratio, prune_layer=prune_layer, method=scorers[cell.method])


def _summarise(cells, shape, settings, n, seq, itemsize, reference) -> tuple[dict, list[dict]]:
    k = settings.prune_layer
    baseline = statistics.median(cells[0].wall)
    reference_extra = reference["extra_bytes"] if reference else None
    full = {c.method: statistics.median(c.wall) for c in cells if c.keep_ratio == 1.0}
    rows = []
    for cell in cells:
        wall = statistics.median(cell.wall)
        kept = cell.tokens_after if cell.method != "none" else seq
        ideal = flops.ideal_speedup(shape, seq, kept, k) if cell.method != "none" else 1.0
        speedup = full[cell.method] / wall if cell.method in full else None
        scoring = statistics.median(cell.scoring) if cell.scoring else None
        peak = cell.memory["peak_bytes"] if cell.memory else None
        kv_ideal = flops.kv_cache_bytes(shape, seq, kept, k if cell.method != "none" else 0, itemsize)
        rows.append(
            {
                "audio_tokens": n,
                "method": cell.method,
                "keep_ratio": cell.keep_ratio,
                "tokens_before": seq,
                "tokens_after": kept,
                "audio_tokens_after": cell.audio_tokens_after,
                "prefill_ms": wall * 1e3,
                "prefill_ms_runs": [t * 1e3 for t in cell.wall],
                "prefill_ms_min": min(cell.wall) * 1e3,
                "prefill_cpu_ms": statistics.median(cell.cpu) * 1e3,
                "speedup": speedup,
                "speedup_vs_unwrapped": baseline / wall,
                "ideal_speedup": ideal,
                "measured_over_ideal": speedup / ideal if speedup is not None else None,
                "gflops": flops.prefill_flops(shape, seq, kept, k) / 1e9,
                "scoring_ms": scoring * 1e3 if scoring is not None else None,
                "scoring_share": scoring / baseline if scoring is not None else None,
                "scoring_memory": cell.memory,
                "scoring_peak_bytes": peak,
                "scoring_peak_share": peak / reference_extra if peak is not None and reference_extra else None,
                "kv_bytes": cell.kv_bytes,
                "kv_bytes_ideal": kv_ideal,
                "kv_error": abs(cell.kv_bytes - kv_ideal) / kv_ideal,
                "decode_ms_per_token": cell.decode * 1e3 if cell.decode is not None else None,
            }
        )
    summary = {
        "audio_tokens": n,
        "sequence_tokens": seq,
        "skipped": False,
        "unpruned_prefill_ms": baseline * 1e3,
        "reference": reference,
    }
    return summary, rows


def _cell_name(cell: _Cell) -> str:
    return "unwrapped" if cell.method == "none" else f"{cell.method} {cell.keep_ratio:g}"


def _layer_split(num_layers: int, k: int) -> str:
    full = "layer 0" if k == 1 else f"layers 0-{k - 1}"
    pruned = f"layer {k}" if k == num_layers - 1 else f"layers {k}-{num_layers - 1}"
    return f"{full} full sequence, {pruned} kept tokens only (K = {k} of {num_layers})"


def machine_info() -> dict:
    """CPU model, cores, memory, torch threads and library versions."""
    import transformers

    cpu = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    memory = None
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "cpu": cpu or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_bytes": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


# ---------------------------------------------------------------------- targets


def evaluate_targets(results: dict) -> list[dict]:
    """The four figures the benchmark is judged on, each with its target and whether it was met (None: not in
    this run's grid)."""
    cells = [c for c in results["cells"] if c["method"] != "none"]

    def at(n: int, keep: float | None = None) -> list[dict]:
        return [c for c in cells if c["audio_tokens"] == n and (keep is None or c["keep_ratio"] == keep)]

    speed = [c["measured_over_ideal"] for c in at(TARGET_SPEED["audio_tokens"], TARGET_SPEED["keep_ratio"])]
    scoring = [c["scoring_share"] for c in at(TARGET_SCORING_TIME["audio_tokens"]) if c["scoring_share"] is not None]
    memory = [
        c["scoring_peak_share"]
        for c in at(TARGET_SCORING_MEMORY["audio_tokens"])
        if c["scoring_peak_share"] is not None
    ]
    kv = [c["kv_error"] for c in results["cells"]]
    return [
        _target(
            "speedup_vs_ideal",
            f"measured / FLOP-ideal speed-up at {TARGET_SPEED['audio_tokens']} audio tokens, keep "
            f"{TARGET_SPEED['keep_ratio']} (worst method)",
            ">=",
            TARGET_SPEED["min_share_of_ideal"],
            min(speed) if speed else None,
        ),
        _target(
            "scoring_time_share",
            f"scoring time / unpruned prefill at {TARGET_SCORING_TIME['audio_tokens']} audio tokens (worst cell)",
            "<=",
            TARGET_SCORING_TIME["max_share_of_prefill"],
            max(scoring) if scoring else None,
        ),
        _target(
            "scoring_memory_share",
            f"extra scoring memory / extra memory of eager full attention at layer K-1 at "
            f"{TARGET_SCORING_MEMORY['audio_tokens']} audio tokens (worst cell)",
            "<=",
            TARGET_SCORING_MEMORY["max_share_of_reference"],
            max(memory) if memory else None,
        ),
        _target(
            "kv_bytes_error",
            "|KV-cache bytes - ideal| / ideal (worst cell)",
            "<=",
            TARGET_KV["max_relative_error"],
            max(kv) if kv else None,
        ),
    ]


def _target(name: str, description: str, comparison: str, target: float, value: float | None) -> dict:
    met = None if value is None else (value >= target if comparison == ">=" else value <= target)
    return {"name": name, "description": description, "comparison": comparison, "target": target, "value": value,
            "met": met}  # fmt: skip


# ---------------------------------------------------------------------- report


def format_markdown(results: dict) -> str:
    """The report as markdown: setup, one table row per cell, memory per length, the four targets, notes."""
    machine, model = results["machine"], results["model"]
    d = model["decoder"]
    lines = [
        "# headrouter bench",
        "",
        f"- machine: {machine['cpu']}, {machine['cores']} cores, {machine['torch_threads']} torch threads, "
        f"torch {machine['torch']}, transformers {machine['transformers']}; other processes used "
        f"{_fmt(machine.get('other_processes_cpu_share'), '{:.0%}')} of the CPUs during the run",
        f"- model: {model['source']}; hidden {d['hidden_size']}, {d['num_heads']} query heads, {d['num_kv_heads']} KV "
        f"heads, head dim {d['head_dim']}, MLP {d['intermediate_size']}, {d['num_layers']} layers, vocab "
        f"{model['vocab_size']}; {model['dtype']}, attention {model['attn_implementation']}",
        f"- split: {model['layer_split']}",
        f"- prompt: {TEXT_BEFORE} text tokens, `<audio_bos>`, N audio placeholders, `<audio_eos>`, {TEXT_AFTER} text "
        "tokens; no `input_features` (the audio tower does not run; placeholder embeddings stand in for audio "
        "features), batch 1",
        f"- prefill: median of {results['settings']['runs']} runs after a warm-up, runs interleaved over the cells "
        "of a length; speed-up vs keep 1.0 of the same method",
        "",
        _cell_table(results["cells"]),
        "",
        "Scoring memory: peak allocation through PyTorch's CPU allocator (torch.profiler, profile_memory) in the "
        "router's capture and pruning hooks, beside eager attention of layer K-1 returning its heads x seq x seq "
        "weights, minus the same layer with sdpa (same inputs, same run).",
        "",
        _memory_table(results),
        "",
        "## Targets",
        "",
        _target_table(results["targets"]),
    ]
    if results["notes"]:
        lines += ["", "## Notes", "", *(f"- {note}" for note in results["notes"])]
    return "\n".join(lines) + "\n"


def _cell_table(cells: list[dict]) -> str:
    header = [
        "audio tokens", "method", "keep", "tokens → kept", "prefill ms", "speed-up", "ideal", "measured / ideal",
        "scoring ms (% of unpruned)", "scoring extra MiB", "KV MiB (ideal)", "decode ms/token",
    ]  # fmt: skip
    rows = []
    for c in cells:
        pruned = c["method"] != "none"
        rows.append(
            [
                f"{c['audio_tokens']:,}",
                c["method"] if pruned else "unwrapped",
                f"{c['keep_ratio']:g}" if pruned else "–",
                f"{c['tokens_before']:,} → {c['tokens_after']:,}",
                f"{c['prefill_ms']:,.0f}",
                _fmt(c["speedup"], "{:.2f}×"),
                f"{c['ideal_speedup']:.2f}×",
                _fmt(c["measured_over_ideal"], "{:.0%}"),
                f"{c['scoring_ms']:.1f} ({c['scoring_share']:.2%})" if c["scoring_ms"] is not None else "–",
                _fmt(c["scoring_peak_bytes"] and c["scoring_peak_bytes"] / MIB, "{:.1f}"),
                f"{c['kv_bytes'] / MIB:.1f} ({c['kv_bytes_ideal'] / MIB:.1f})",
                _fmt(c["decode_ms_per_token"], "{:.1f}"),
            ]
        )
    return _markdown(header, rows)


def _memory_table(results: dict) -> str:
    header = [
        "audio tokens", "unpruned prefill ms", "eager + weights, layer K-1 MiB", "sdpa, layer K-1 MiB",
        "reference extra MiB", "heads·L²·bytes MiB", "worst scoring extra MiB", "scoring / reference",
        "CPU used by others while timing",
    ]  # fmt: skip
    rows = []
    for item in results["lengths"]:
        if item.get("skipped"):
            rows.append([f"{item['audio_tokens']:,}", "skipped", "", "", "", "", "", "", ""])
            continue
        ref = item.get("reference")
        cells = [c for c in results["cells"] if c["audio_tokens"] == item["audio_tokens"] and c["scoring_peak_bytes"]]
        worst = max(cells, key=lambda c: c["scoring_peak_bytes"], default=None)
        rows.append(
            [
                f"{item['audio_tokens']:,}",
                f"{item['unpruned_prefill_ms']:,.0f}",
                _fmt(ref and ref["eager_peak_bytes"] / MIB, "{:,.1f}"),
                _fmt(ref and ref["sdpa_peak_bytes"] / MIB, "{:,.1f}"),
                _fmt(ref and ref["extra_bytes"] / MIB, "{:,.1f}"),
                _fmt(ref and ref["analytic_weights_bytes"] / MIB, "{:,.1f}"),
                _fmt(worst and worst["scoring_peak_bytes"] / MIB, "{:,.1f}"),
                _fmt(worst and worst["scoring_peak_share"], "{:.2%}"),
                _fmt(item.get("other_processes_cpu_share"), "{:.0%}"),
            ]
        )
    return _markdown(header, rows)


def _target_table(targets: list[dict]) -> str:
    rows = [
        [
            t["description"],
            f"{t['comparison']} {_fmt_target(t['name'], t['target'])}",
            _fmt_target(t["name"], t["value"]) if t["value"] is not None else "not in this run",
            {True: "met", False: "MISSED", None: "–"}[t["met"]],
        ]
        for t in targets
    ]
    return _markdown(["figure", "target", "measured", ""], rows)


def format_targets(targets: list[dict]) -> list[str]:
    """One line per target: ``figure: measured (target) -> met/MISSED``."""
    lines = []
    for t in targets:
        value = _fmt_target(t["name"], t["value"]) if t["value"] is not None else "not in this run"
        status = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        target = _fmt_target(t["name"], t["target"])
        lines.append(f"{t['description']}: {value} (target {t['comparison']} {target}) -> {status}")
    return lines


def _fmt_target(name: str, value: float) -> str:
    return f"{value:.1%}" if name == "speedup_vs_ideal" else f"{value:.3%}"


def _fmt(value, spec: str) -> str:
    return "–" if value is None else spec.format(value)


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def plot_speedups(results: dict, path: str | Path) -> Path | None:
    """Speed-up vs keep ratio, one line per audio length and one panel per method, the ideal dashed.

    Returns the file written, or None (logged) when matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.info("bench: matplotlib is not installed (pip install 'headrouter[plot]'); skipping the plot")
        return None
    methods = list(dict.fromkeys(c["method"] for c in results["cells"] if c["method"] != "none"))
    lengths = sorted({c["audio_tokens"] for c in results["cells"]})
    fig, axes = plt.subplots(
        1, max(len(methods), 1), figsize=(5.5 * max(len(methods), 1), 4.2), squeeze=False, sharey=True
    )
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, method in zip(axes[0], methods, strict=False):
        for i, n in enumerate(lengths):
            cells = sorted(
                (c for c in results["cells"] if c["method"] == method and c["audio_tokens"] == n),
                key=lambda c: c["keep_ratio"],
            )
            keep = [c["keep_ratio"] for c in cells]
            color = colors[i % len(colors)]
            ax.plot(keep, [c["speedup"] for c in cells], "o-", color=color, label=f"{n:,} audio tokens")
            ax.plot(keep, [c["ideal_speedup"] for c in cells], "--", color=color, alpha=0.7)
        ax.plot([], [], "--", color="gray", label="FLOP-ideal")
        ax.set_title(f"{method}: {results['model']['layer_split'].split('(')[-1].rstrip(')')}")
        ax.set_xlabel("keep ratio")
        ax.set_ylabel("prefill speed-up vs keep 1.0")
        ax.invert_xaxis()
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(results: dict, out_dir: str | Path, stem: str = "bench", plot: bool = True) -> dict[str, Path]:
    """Write ``{stem}.json``, ``{stem}.md`` and (with matplotlib) ``{stem}.png`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / f"{stem}.json", "markdown": out / f"{stem}.md"}
    paths["json"].write_text(json.dumps(results, indent=2) + "\n")
    paths["markdown"].write_text(format_markdown(results))
    if plot:
        png = plot_speedups(results, out / f"{stem}.png")
        if png is not None:
            paths["plot"] = png
    return paths


# ---------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``headrouter bench``."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"short run: {_join(QUICK_LENGTHS)} audio tokens, keep {_join(QUICK_KEEP_RATIOS)}, {QUICK_RUNS} runs, "
        f"{QUICK_DECODE_TOKENS} decode tokens (options below override it)",
    )
    parser.add_argument(
        "--lengths", type=_int_list, help=f"comma-separated audio token counts (default {_join(DEFAULT_LENGTHS)})"
    )
    parser.add_argument(
        "--keep", type=keep_ratios, help=f"comma-separated keep ratios in (0, 1] (default {_join(DEFAULT_KEEP_RATIOS)})"
    )
    parser.add_argument(
        "--methods", type=method_names, help=f"comma-separated scoring methods (default {_join(DEFAULT_METHODS)})"
    )
    parser.add_argument("--runs", type=positive_int, help=f"timed prefill runs per cell (default {DEFAULT_RUNS})")
    parser.add_argument(
        "--decode-tokens",
        type=_decode_tokens,
        help=f"new tokens for decode timing, 0 to skip (default {DEFAULT_DECODE_TOKENS})",
    )
    parser.add_argument(
        "--layers",
        type=positive_int,
        help=f"decoder layers of the built-in model (default {DEFAULT_LAYERS}; not with --config or --model)",
    )
    parser.add_argument(
        "--prune-layer",
        type=positive_int,
        help=f"first pruned layer K (default {DEFAULT_BENCH_PRUNE_LAYER} for the built-in model, "
        f"{DEFAULT_PRUNE_LAYER} with --config or --model)",
    )
    parser.add_argument("--dtype", choices=tuple(DTYPES), default="bfloat16", help="model dtype (default bfloat16)")
    parser.add_argument("--attn", choices=("sdpa", "eager"), default="sdpa", help="attention (default sdpa)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--config", metavar="PATH", help="a thinker config JSON (random weights) instead of the default"
    )
    source.add_argument("--model", metavar="PATH", help="a local Qwen2.5-Omni (or thinker) checkpoint directory")
    parser.add_argument("--out", metavar="DIR", default="bench-results", help="output folder (default bench-results)")
    parser.add_argument("--name", help="file name stem of the outputs (default bench, or bench-quick with --quick)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurements (torch.profiler)")
    parser.add_argument("--no-plot", action="store_true", help="skip the plot")
    parser.add_argument("--threads", type=positive_int, help="torch threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and prompt text (default 0)")


def settings_from_args(args: argparse.Namespace) -> BenchSettings:
    """:class:`BenchSettings` from parsed :func:`add_arguments` options."""
    values = dict(
        methods=args.methods,
        lengths=args.lengths,
        keep_ratios=args.keep,
        runs=args.runs,
        decode_tokens=args.decode_tokens,
        num_layers=args.layers,
        prune_layer=args.prune_layer,
    )
    values = {k: v for k, v in values.items() if v is not None}
    values.update(
        dtype=args.dtype,
        attn_implementation=args.attn,
        config_path=args.config,
        model_path=args.model,
        memory=not args.no_memory,
        threads=args.threads,
        seed=args.seed,
    )
    return BenchSettings.quick(**values) if args.quick else BenchSettings(**values)


def _join(values: Sequence) -> str:
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def _decode_tokens(text: str) -> int:
    value = number(int, text)
    if value != 0 and value < 2:
        raise argparse.ArgumentTypeError(f"must be 0 (skip) or >= 2, got {value}")
    return value


def _int_list(text: str) -> list[int]:
    return [positive_int(item) for item in items(text)]


__all__ = [
    "BenchSettings",
    "add_arguments",
    "bench_thinker_config",
    "evaluate_targets",
    "format_markdown",
    "make_inputs",
    "run_benchmark",
    "write_report",
]
