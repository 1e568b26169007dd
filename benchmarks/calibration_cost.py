"""Cost of calibration: time per sample against one plain forward pass of the same sample, and peak memory
of calibrating 10 vs. 100 samples (each in a fresh process, so peaks do not mix).

    python benchmarks/calibration_cost.py [--layers 4] [--seconds 30] [--dtype bfloat16] [--threads 2]

The model is the benchmark's random thinker at Qwen2.5-Omni-3B decoder widths (``Qwen2_5OmniAdapter.random_model``,
as ``headrouter bench`` builds it) with the tiny processor; samples are in-memory tones and noise, so no file I/O is
timed.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

import headrouter
from headrouter import bench
from headrouter.adapters import Qwen2_5OmniAdapter
from headrouter.adapters.chat_inputs import processor_inputs
from headrouter.adapters.qwen2_5_omni import tiny
from headrouter.machine import describe_machine
from headrouter.methods.headrouter.calibration import CalibrationSample
from headrouter.timing import timed_forward


def build(layers: int, dtype: str):
    torch.manual_seed(0)
    model = Qwen2_5OmniAdapter.random_model("3B", layers, dtype=bench.DTYPES[dtype], attn_implementation="sdpa")
    return model, tiny.tiny_processor()


def samples(count: int, seconds: float) -> list[CalibrationSample]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(count):
        if i % 2:
            wav = (0.1 * rng.standard_normal(int(seconds * tiny.SAMPLE_RATE))).astype(np.float32)
            out.append(CalibrationSample(wav, "What colour is the noise?", "acoustic", tiny.SAMPLE_RATE))
        else:
            wav = tiny.tone(seconds, 200.0 + 40 * i, seed=i)
            out.append(CalibrationSample(wav, "What was said?", "semantic", tiny.SAMPLE_RATE))
    return out


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(count: int, layers: int, seconds: float, dtype: str) -> None:
    model, processor = build(layers, dtype)
    items = samples(count, seconds)
    with torch.no_grad():  # one plain forward first, so the baseline includes the forward's own peak
        model(**processor_inputs(processor, items[0].audio, items[0].prompt))
    before = peak_rss_mib()
    headrouter.calibrate(model, processor, items, progress=False)
    print(json.dumps({"samples": count, "peak_rss_mib_before": before, "peak_rss_mib_after": peak_rss_mib()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--dtype", default="bfloat16", choices=sorted(bench.DTYPES))
    parser.add_argument("--timed", type=int, default=6, help="samples timed both ways")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (1 on a shared machine)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        child(args.child, args.layers, args.seconds, args.dtype)
        return

    model, processor = build(args.layers, args.dtype)
    items = samples(args.timed, args.seconds)
    inputs = [processor_inputs(processor, s.audio, s.prompt) for s in items]
    timed_forward(model, inputs[0])  # warm-up
    plain = [timed_forward(model, x, use_cache=False)[0] for x in inputs]
    calibrated = []
    for s in items:  # one sample per call, so each call times one sample (tiny overhead per call included)
        start = time.perf_counter()
        headrouter.calibrate(model, processor, [s], tasks=[s.task], progress=False)
        calibrated.append(time.perf_counter() - start)
    processing = []
    for s in items:
        start = time.perf_counter()
        processor_inputs(processor, s.audio, s.prompt)
        processing.append(time.perf_counter() - start)
    audio_tokens = int((inputs[0]["input_ids"] == tiny.AUDIO_TOKEN).sum())
    report = {
        "machine": describe_machine(),
        "layers": args.layers,
        "dtype": args.dtype,
        "audio_tokens": audio_tokens,
        "plain_forward_s_median": statistics.median(plain),
        "calibration_s_per_sample_median": statistics.median(calibrated),
        "processing_s_median": statistics.median(processing),
    }
    per_sample, forward = report["calibration_s_per_sample_median"], report["plain_forward_s_median"]
    report["ratio_calibration_to_forward"] = per_sample / forward
    report["ratio_calibration_to_processing_plus_forward"] = per_sample / (report["processing_s_median"] + forward)
    memory = []
    for count in (10, 100):
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(count), "--layers", str(args.layers),
             "--seconds", str(args.seconds), "--dtype", args.dtype, "--threads", str(args.threads)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        memory.append(json.loads(done.stdout.strip().splitlines()[-1]))
    report["memory"] = memory
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
