"""Audio Flamingo 3: the adapter, loading a checkpoint and its processor, and tiny random-weight models for tests."""

from headrouter.adapters.audio_flamingo3.adapter import AudioFlamingo3Adapter

__all__ = ["AudioFlamingo3Adapter"]
