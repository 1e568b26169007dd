"""The benchmark's time and size measurements beside prefill (which :func:`headrouter.timing.timed_forward` times):
the time spent inside one module (the audio tower), decode time per token, KV-cache bytes, and how busy other
processes kept the CPUs."""

from __future__ import annotations

import os
import statistics
import time

import torch
from torch import nn
from transformers.generation.streamers import BaseStreamer

from headrouter.timing import ForwardHooks, Stopwatch, module_device


class _TokenClock(BaseStreamer):
    """Records when ``generate`` hands over the prompt and each new token."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def put(self, value) -> None:
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


class ModuleSeconds(ForwardHooks):
    """Wall seconds spent inside ``module``'s forward calls while the context is open, summed over the calls (the
    device synchronised at both ends of each call, by :class:`~headrouter.timing.Stopwatch`)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__(module)
        self.seconds = 0.0
        self._watch = Stopwatch(module_device(module))

    def _before(self, module, args) -> None:
        self._watch.start()

    def _after(self, module, args, output) -> None:
        wall, _ = self._watch.stop()
        self.seconds += wall


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
    """Bytes of all keys and values in a transformers cache (``DynamicCache`` and its kin: one entry per layer in
    ``cache.layers``; a layer not written yet holds no tensors)."""
    tensors = (t for layer in cache.layers for t in (layer.keys, layer.values))
    return sum(t.nbytes for t in tensors if isinstance(t, torch.Tensor))


class LoadMeter:
    """How busy the machine's CPUs were with *other* processes between :meth:`start` and :meth:`stop`.

    Busy time of all CPUs (``/proc/stat``) minus this process's CPU time, over wall time x cores; None where
    ``/proc/stat`` is not readable. A shared machine makes timings noisy; the report says how shared it was.
    """

    def start(self) -> None:
        """Start the window."""
        self._start = (_busy_seconds(), time.process_time(), time.perf_counter())

    def stop(self) -> float | None:
        """The share of the CPUs' time that other processes used since :meth:`start` (None where unknown)."""
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
