"""Phi-4-multimodal: the adapter, loading a checkpoint (with its speech LoRA) and its processor, the benchmark's
models, and tiny random-weight models for tests."""

from headrouter.adapters.phi4_multimodal.adapter import Phi4MultimodalAdapter

__all__ = ["Phi4MultimodalAdapter"]
