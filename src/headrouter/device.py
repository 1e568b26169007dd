"""Where a model runs and with which attention kernel: ``auto`` picks the GPU when torch sees one, and on it
flash-attention-2 when the ``flash-attn`` package is installed (transformers' ``is_flash_attn_2_available``), else
sdpa. The benchmark and evaluation resolve their ``--device`` and ``--attn`` here, so both choose alike."""

from __future__ import annotations

import torch

AUTO = "auto"
ATTENTION_KINDS = ("sdpa", "eager", "flash_attention_2")


def resolve_device(name: str = AUTO) -> torch.device:
    """``auto``: ``cuda`` when available, else ``cpu``; otherwise the named device, ``ValueError`` if this machine
    cannot run it (a CUDA device without CUDA, or an unknown name)."""
    if name == AUTO:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {name!r}") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but torch sees no CUDA device on this machine")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {name!r}")
    return device


def flash_attention_available() -> bool:
    """Whether transformers can run flash-attention-2 here (the package installed and a CUDA device)."""
    from transformers.utils import is_flash_attn_2_available

    return torch.cuda.is_available() and is_flash_attn_2_available()


def resolve_attention(name: str, device: torch.device) -> str:
    """``auto``: flash-attention-2 on a CUDA device where it is available, else sdpa; otherwise one of
    :data:`ATTENTION_KINDS`, ``ValueError`` for flash-attention-2 where it cannot run."""
    if name == AUTO:
        return "flash_attention_2" if device.type == "cuda" and flash_attention_available() else "sdpa"
    if name not in ATTENTION_KINDS:
        raise ValueError(f"attention must be 'auto' or one of {', '.join(ATTENTION_KINDS)}, got {name!r}")
    if name == "flash_attention_2" and (device.type != "cuda" or not flash_attention_available()):
        raise ValueError(
            f"attention 'flash_attention_2' needs a CUDA device and the flash-attn package (device {device}; "
            "transformers' is_flash_attn_2_available() is False here)"
        )
    return name
