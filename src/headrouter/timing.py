"""The one prefill clock of headrouter: ``headrouter timing``, ``headrouter eval`` and ``headrouter bench`` all time a
forward pass with :class:`Stopwatch`, so their figures mean the same thing.

CUDA runs kernels asynchronously: a clock read right after a forward call returns would measure when the kernels
were queued, not when they finished. The stopwatch waits for the model's device at both ends.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn


def module_device(module: nn.Module) -> torch.device:
    """The device of ``module``'s first parameter (the CPU for a module without parameters)."""
    parameter = next(module.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def synchronize(device: torch.device) -> None:
    """Wait until the work queued on ``device`` has finished (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Stopwatch:
    """Wall and process-CPU seconds between :meth:`start` and :meth:`stop`, ``device`` synchronised at both ends."""

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self._start: tuple[float, float] | None = None

    @property
    def running(self) -> bool:
        """Whether :meth:`start` was called and :meth:`stop` not yet."""
        return self._start is not None

    def start(self) -> None:
        """Start timing once the device's queued work is done."""
        synchronize(self.device)
        self._start = (time.perf_counter(), time.process_time())

    def stop(self) -> tuple[float, float]:
        """``(wall seconds, process CPU seconds)`` since :meth:`start`, once the device's queued work is done."""
        if self._start is None:
            raise RuntimeError("Stopwatch.stop() without start()")
        synchronize(self.device)
        wall, cpu = self._start
        self._start = None
        return time.perf_counter() - wall, time.process_time() - cpu


def timed_forward(module: nn.Module, inputs: Mapping, **kwargs: Any) -> tuple[float, float, Any]:
    """One forward call of ``module`` on ``inputs`` (and ``kwargs``) under ``torch.no_grad``: wall seconds, process
    CPU seconds, and the output."""
    watch = Stopwatch(module_device(module))
    with torch.no_grad():
        watch.start()
        output = module(**inputs, **kwargs)
        wall, cpu = watch.stop()
    return wall, cpu, output


class ForwardHooks:
    """A context manager that installs a forward pre-hook (:meth:`_before`) and a forward hook (:meth:`_after`) on
    ``module`` and removes them on exit: the shape of every measurement taken around a module's forward calls."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self._handles: list = []

    def __enter__(self):
        self._handles = [
            self.module.register_forward_pre_hook(self._before),
            self.module.register_forward_hook(self._after),
        ]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _before(self, module: nn.Module, args) -> None:
        raise NotImplementedError

    def _after(self, module: nn.Module, args, output) -> None:
        raise NotImplementedError


class PrefillClock(ForwardHooks):
    """Wall seconds of the first forward call of ``module`` after each :meth:`reset`, taken by forward hooks: inside
    ``generate`` that call is the prefill, timed without an extra pass. Use as a context manager (it installs and
    removes the hooks)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__(module)
        self.seconds: float | None = None
        self._watch = Stopwatch(module_device(module))

    def reset(self) -> None:
        """Forget the last time: the next forward call is timed."""
        self.seconds = None
        self._watch = Stopwatch(self._watch.device)

    def _before(self, module, args) -> None:
        if self.seconds is None and not self._watch.running:
            self._watch.start()

    def _after(self, module, args, output) -> None:
        if self.seconds is None and self._watch.running:
            self.seconds, _ = self._watch.stop()
