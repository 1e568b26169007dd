"""Gemma 3n: the adapter, loading a checkpoint and its processor, the benchmark's random models, and tiny
random-weight models for tests."""

from headrouter.adapters.gemma3n.adapter import Gemma3nAdapter

__all__ = ["Gemma3nAdapter"]
