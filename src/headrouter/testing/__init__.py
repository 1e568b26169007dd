"""Proofs that users who add a method or a model family can run on it too: the masked reference that pruning must
equal, and the proof that compares them (``assert_pruned_equals_masked``)."""

from headrouter.testing.proofs import assert_pruned_equals_masked
from headrouter.testing.reference import keep_mask_from_pruner, masked_reference

__all__ = ["assert_pruned_equals_masked", "keep_mask_from_pruner", "masked_reference"]
