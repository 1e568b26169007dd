"""What only a GPU can check: the proofs on CUDA, flash-attention-2 pruning like sdpa, the allocator's peak and the
benchmark at Qwen2.5-Omni-3B widths on the device. Skipped where torch sees no CUDA device; ``benchmarks/gpu.sh``
runs this file and the GPU benchmark on a GPU machine."""

from __future__ import annotations

import pytest
import torch

import headrouter
from headrouter import bench
from headrouter.adapters.qwen2_5_omni import tiny
from headrouter.bench.memory import AllocationWindow
from headrouter.device import flash_attention_available
from headrouter.testing import assert_cached_equals_recomputed, assert_pruned_equals_masked

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (benchmarks/gpu.sh)")
needs_flash = pytest.mark.skipif(not flash_attention_available(), reason="needs the flash-attn package")

CUDA = torch.device("cuda")


def batch() -> dict:
    """A left-padded batch of two clips of different lengths, on the GPU."""
    prompts = [
        tiny.audio_prompt([tiny.tone(1.6, 440.0, seed=1)], seed=1),
        tiny.audio_prompt([tiny.tone(0.9, 660.0, seed=2)], text_lengths=[3, 7], seed=2),
    ]
    return tiny.encode(prompts, padding_side="left").to(CUDA)


def model(attn_implementation: str = "sdpa", dtype: torch.dtype = torch.float32):
    return tiny.tiny_model(attn_implementation=attn_implementation).to(CUDA, dtype)


@pytest.mark.parametrize("method", ["fastv", "headrouter", "dart"])
def test_pruned_equals_masked_on_the_gpu(method):
    assert_pruned_equals_masked(model(), batch(), method, keep_ratio=0.3, atol=1e-4)


def test_cached_decoding_equals_recomputation_on_the_gpu():
    assert_cached_equals_recomputed(model(), batch(), keep_ratio=0.4)


@needs_flash
def test_flash_attention_prunes_like_sdpa():
    """Same weights, same kept tokens (frame: chosen by position, so no score ties can differ between kernels):
    flash-attention-2 and sdpa agree to bf16 precision, in the pruned forward and in greedy decoding."""
    sdpa = model("sdpa", torch.bfloat16)
    flash = model("flash_attention_2", torch.bfloat16)
    flash.load_state_dict(sdpa.state_dict())
    inputs = batch().to(CUDA, torch.bfloat16)
    outputs = {}
    for name, m in (("sdpa", sdpa), ("flash", flash)):
        headrouter.wrap(m, 0.4, method="frame")
        with torch.no_grad():
            logits = m(**inputs).logits.float()
            tokens = m.generate(**inputs, max_new_tokens=6, do_sample=False)
        outputs[name] = (logits, m.headrouter.kept_index.clone(), tokens)
        headrouter.unwrap(m)
    (l_sdpa, k_sdpa, t_sdpa), (l_flash, k_flash, t_flash) = outputs["sdpa"], outputs["flash"]
    assert torch.equal(k_sdpa, k_flash)
    valid = inputs["attention_mask"].bool()[:, -1]
    assert (l_sdpa[:, -1][valid] - l_flash[:, -1][valid]).abs().max() < 5e-2
    assert torch.equal(t_sdpa, t_flash)


def test_the_allocators_peak_is_read_on_the_gpu():
    window = AllocationWindow(CUDA)
    window.start()
    block = torch.empty(2**20, device=CUDA)  # 4 MiB
    del block
    kept = torch.empty(2**18, device=CUDA)  # 1 MiB
    peak, net = window.stop()
    assert peak >= 5 * 2**20 - 2**20 and net >= 2**20
    del kept


def test_bench_end_to_end_on_the_gpu_at_3b_widths():
    settings = bench.BenchSettings(
        lengths=(1500,), keep_ratios=(1.0, 0.3), methods=("fastv", "headrouter"), runs=2, decode_tokens=4,
        with_audio_tower=True, device="cuda", progress=False,
    )  # fmt: skip
    assert settings.attn_implementation == ("flash_attention_2" if flash_attention_available() else "sdpa")
    results = bench.run_benchmark(settings)
    assert results["model"]["device"].startswith("cuda")
    for cell in results["cells"]:
        assert cell["kv_error"] == 0 and cell["prefill_peak_bytes"] >= cell["kv_bytes"]
        assert 0 < cell["tower_share"] < 1
