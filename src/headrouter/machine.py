"""What machine a run measured on: every timing report (eval, timing, bench, calibration cost) records it."""

from __future__ import annotations

import os
import platform

import torch


def machine_info() -> dict:
    """CPU model, cores, memory, torch threads, the GPU if any, and the versions of Python, torch, transformers and
    headrouter: what a reader needs to compare timings taken on different machines."""
    import transformers

    from headrouter import __version__

    return {
        "cpu": _cpu_model() or platform.processor() or platform.machine() or "unknown CPU",
        "cores": os.cpu_count(),
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
    """One line of :func:`machine_info` (``info``, or this machine's): CPU, cores, torch threads, torch and
    transformers versions, and the GPU if any."""
    info = machine_info() if info is None else info
    parts = [
        info["cpu"],
        f"{info['cores']} cores",
        f"torch threads {info['torch_threads']}",
        f"torch {info['torch']}",
        f"transformers {info['transformers']}",
    ]
    if info.get("gpu"):
        parts.append(f"GPU {info['gpu']}")
    return ", ".join(parts)


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
