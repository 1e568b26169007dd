"""MusicFlamingo: the adapter (Audio Flamingo 3's, for its class and processor), the benchmark's models, and tiny
random-weight models for tests."""

from headrouter.adapters.musicflamingo.adapter import MusicFlamingoAdapter

__all__ = ["MusicFlamingoAdapter"]
