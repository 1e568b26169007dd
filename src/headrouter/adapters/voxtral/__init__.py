"""Voxtral: the adapter, loading a checkpoint and its processor, the inputs it builds through mistral-common's
tokenizer, benchmark models at the released decoder widths, and tiny random-weight models for tests."""

from headrouter.adapters.voxtral.adapter import VoxtralAdapter

__all__ = ["VoxtralAdapter"]
