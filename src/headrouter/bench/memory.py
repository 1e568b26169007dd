"""The benchmark's memory measurements: what the router's scoring allocates, what eager full attention with its
weights (the research way) would allocate at the same layer, and whether a size fits this machine's memory."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from headrouter.adapters import ModelAdapter
from headrouter.bench import flops
from headrouter.timing import ForwardHooks


class AllocationWindow:
    """Peak bytes allocated through PyTorch's allocator of ``device`` between :meth:`start` and :meth:`stop`.

    On the CPU, ``torch.profiler`` with ``profile_memory=True``: every allocation and free the allocator reports
    in the window, summed in time order. On a GPU, the CUDA caching allocator's own counters (peak reset at
    :meth:`start`). The peak is above the level at :meth:`start` (frees of older tensors count as negative);
    :meth:`stop` returns ``(peak, net)`` where ``net`` is what is still allocated.
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self._profiler = None
        self._base = 0

    def start(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            return
        self._profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True)
        with _native_stderr_silenced():
            self._profiler.start()

    def stop(self) -> tuple[int, int]:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device) - self._base
            return peak, torch.cuda.memory_allocated(self.device) - self._base
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
        self._window = AllocationWindow(next(adapter.forward_module.parameters()).device)
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


class PrefillMemoryProbe(ForwardHooks):
    """Peak bytes allocated during the first forward call of ``module`` (inside ``generate``, the prefill), above
    what was allocated before it: the whole prefill's activations, KV cache and logits (the weights are already
    there). Use as a context manager; :attr:`peak_bytes` is None until the call has run."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__(module)
        self.peak_bytes: int | None = None
        self._window = AllocationWindow(next(module.parameters()).device)
        self._open = False

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        if self._open:
            self._window.stop()
            self._open = False

    def _before(self, module, args) -> None:
        if self.peak_bytes is None and not self._open:
            self._open = True
            self._window.start()

    def _after(self, module, args, output) -> None:
        if self._open:
            self.peak_bytes, _ = self._window.stop()
            self._open = False


def full_attention_reference(
    adapter: ModelAdapter, attention: nn.Module, hidden_states: torch.Tensor, position_embeddings
) -> dict:
    """Peak allocation of one attention layer computed the research way, eager with its weights returned, and
    the same layer with sdpa; both from the same inputs, with transformers' own attention functions. Queries and
    keys come through the family's adapter (fused projections, q/k norms, partial rotary); the values are stand-ins
    of the keys' shape, since the memory of the weights is measured, not the output."""
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    modeling = sys.modules[type(attention).__module__]
    batch, seq, _ = hidden_states.shape
    dtype = hidden_states.dtype
    mask = torch.full((seq, seq), torch.finfo(dtype).min, dtype=dtype).triu(1)[None, None]  # eager's causal mask
    every_row = torch.arange(seq, device=hidden_states.device).expand(batch, -1)
    scaling = adapter.attention_scaling(attention)

    def run(kind: str) -> tuple[int, int]:
        window = AllocationWindow()
        with torch.no_grad():
            window.start()
            query, key = adapter.project_query_key(attention, hidden_states, position_embeddings, every_row)
            value = torch.zeros_like(key)
            if kind == "eager":
                out, weights = modeling.eager_attention_forward(attention, query, key, value, mask, scaling)
            else:
                out, weights = ALL_ATTENTION_FUNCTIONS["sdpa"](
                    attention, query, key, value, None, scaling=scaling, is_causal=True
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


def available_memory(device: torch.device | str = "cpu") -> int | None:
    """Bytes of memory available to new allocations on ``device``: free GPU memory, or on the CPU ``MemAvailable``
    of /proc/meminfo, else free pages."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
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
