"""The one prefill clock (headrouter.timing): device synchronised at both ends, first forward after a reset only."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from headrouter.timing import PrefillClock, Stopwatch, module_device, timed_forward


class Sleeper(nn.Module):
    """A forward that takes a known time and counts its calls."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.seconds = seconds
        self.calls = 0

    def forward(self, x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        self.calls += 1
        time.sleep(self.seconds)
        return x * scale + self.weight


def test_stopwatch_waits_for_cuda_at_both_ends_and_not_on_cpu(monkeypatch):
    synced = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: synced.append(device))
    watch = Stopwatch("cuda")
    watch.start()
    assert watch.running and len(synced) == 1
    wall, cpu = watch.stop()
    assert len(synced) == 2 and synced[0] == torch.device("cuda") and not watch.running
    assert wall >= 0 and cpu >= 0
    cpu_watch = Stopwatch()
    cpu_watch.start()
    cpu_watch.stop()
    assert len(synced) == 2


def test_stopwatch_refuses_stop_without_start():
    with pytest.raises(RuntimeError, match="without start"):
        Stopwatch().stop()


def test_timed_forward_returns_times_and_output_without_grad():
    module = Sleeper(0.02)
    wall, cpu, output = timed_forward(module, {"x": torch.ones(2)}, scale=3.0)
    assert wall >= 0.02 and cpu >= 0
    assert torch.equal(output, torch.full((2,), 3.0)) and not output.requires_grad
    assert module_device(module) == torch.device("cpu") and module_device(nn.ReLU()) == torch.device("cpu")


def test_prefill_clock_times_the_first_forward_after_each_reset():
    module = Sleeper(0.02)
    with PrefillClock(module) as clock:
        module(torch.ones(1))
        first = clock.seconds
        module.seconds = 0.0
        module(torch.ones(1))  # a decode step: not timed
        assert clock.seconds == first >= 0.02
        clock.reset()
        assert clock.seconds is None
        module(torch.ones(1))
        assert clock.seconds is not None and clock.seconds < first
    module(torch.ones(1))  # hooks removed on exit
    assert module._forward_hooks == {} and module._forward_pre_hooks == {}
