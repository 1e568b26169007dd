"""Qwen2-Audio: the adapter, loading a checkpoint and its processor, and tiny random-weight models for tests."""

from headrouter.adapters.qwen2_audio.adapter import Qwen2AudioAdapter

__all__ = ["Qwen2AudioAdapter"]
