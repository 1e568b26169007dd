"""What machine a run measured on: every timing report (eval, timing, bench, calibration cost) records it."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable

import torch

BF16_UNITS = (("amx_bf16", "AMX"), ("avx512_bf16", "AVX512-BF16"))
"""CPU flags of bfloat16 matrix units, best first, with their names in the machine line."""


def machine_info() -> dict:
    """CPU model, cores, memory, torch threads, the GPU if any, and the versions of Python, torch, transformers and
    headrouter: what a reader needs to compare timings taken on different machines."""
    import transformers

    from headrouter import __version__

    return {
        "cpu": _cpuinfo_field("model name") or platform.processor() or platform.machine() or "unknown CPU",
        "cores": os.cpu_count(),
        "cpu_bf16": bf16_units((_cpuinfo_field("flags") or "").split()),
        "torch_threads": torch.get_num_threads(),
        "memory_bytes": _memory_bytes(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "headrouter": __version__,
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def describe_machine(info: dict | None = None) -> str:
    """One line of :func:`machine_info` (``info``, or this machine's): CPU, cores, its bfloat16 matrix units if any,
    torch threads, torch and transformers versions, and the GPU if any."""
    info = machine_info() if info is None else info
    parts = [info["cpu"], f"{info['cores']} cores"]
    if info.get("cpu_bf16"):  # absent from reports written before it was recorded
        parts.append(f"{info['cpu_bf16']} bf16 units")
    parts += [
        f"torch threads {info['torch_threads']}",
        f"torch {info['torch']}",
        f"transformers {info['transformers']}",
    ]
    if info.get("gpu"):
        parts.append(f"GPU {info['gpu']}")
    return ", ".join(parts)


def bf16_units(flags: Iterable[str]) -> str | None:
    """The best bfloat16 matrix unit among the CPU ``flags`` (:data:`BF16_UNITS`), None if it has none. With one,
    bf16 matrix products run several times faster (on 2 cores with AMX: 2 TFLOP/s against 0.25 in float32), so bf16
    timings from two CPUs of the same model name can differ several-fold; the machine line says which."""
    flags = set(flags)
    return next((name for flag, name in BF16_UNITS if flag in flags), None)


def _cpuinfo_field(name: str, path: str = "/proc/cpuinfo") -> str | None:
    """The value of the first ``name : value`` line of ``path`` (Linux's CPU description), None where there is none."""
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() == name:
                    return value.strip()
    except OSError:
        pass
    return None


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
