"""Voxtral: the adapter, loading a checkpoint, and tiny random-weight models for tests."""

from headrouter.adapters.voxtral.adapter import VoxtralAdapter

__all__ = ["VoxtralAdapter"]
