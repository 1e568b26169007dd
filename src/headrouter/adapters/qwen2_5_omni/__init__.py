"""Qwen2.5-Omni: the adapter, and what else headrouter knows of this family (loading a checkpoint and its processor,
building prompts with audio, tiny random-weight models for tests)."""

from headrouter.adapters.qwen2_5_omni.adapter import Qwen2_5OmniAdapter

__all__ = ["Qwen2_5OmniAdapter"]
