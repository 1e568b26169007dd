"""Qwen3-Omni: the adapter, and what else headrouter knows of this family (benchmark models at the published widths,
tiny random-weight models and a real processor for tests)."""

from headrouter.adapters.qwen3_omni_moe.adapter import Qwen3OmniMoeAdapter

__all__ = ["Qwen3OmniMoeAdapter"]
