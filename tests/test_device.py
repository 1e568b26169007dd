"""Device and attention choice (headrouter.device): what ``auto`` picks, and clear errors where a choice cannot run."""

from __future__ import annotations

import pytest
import torch

from headrouter.device import ATTENTION_KINDS, flash_attention_available, resolve_attention, resolve_device


def test_auto_picks_the_gpu_only_where_there_is_one():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")


def test_auto_attention_is_flash_only_on_a_gpu_with_flash_attn(monkeypatch):
    assert resolve_attention("auto", torch.device("cpu")) == "sdpa"
    monkeypatch.setattr("headrouter.device.flash_attention_available", lambda: True)
    assert resolve_attention("auto", torch.device("cuda")) == "flash_attention_2"
    assert resolve_attention("auto", torch.device("cpu")) == "sdpa"
    monkeypatch.setattr("headrouter.device.flash_attention_available", lambda: False)
    assert resolve_attention("auto", torch.device("cuda")) == "sdpa"
    for kind in ("sdpa", "eager"):
        assert resolve_attention(kind, torch.device("cpu")) == kind


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_a_gpu_without_cuda_is_refused():
    with pytest.raises(ValueError, match="no CUDA device"):
        resolve_device("cuda")
    assert not flash_attention_available()
    with pytest.raises(ValueError, match="flash_attention_2' needs a CUDA device"):
        resolve_attention("flash_attention_2", torch.device("cpu"))


@pytest.mark.parametrize("name", ["gpu", "tpu:0", "meta"])
def test_unknown_devices_are_refused(name):
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu' or 'cuda"):
        resolve_device(name)


def test_unknown_attention_is_refused():
    with pytest.raises(ValueError, match="attention must be 'auto' or one of"):
        resolve_attention("flash", torch.device("cpu"))
    assert "flash_attention_2" in ATTENTION_KINDS
