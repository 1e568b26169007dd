"""Proofs that users who add a method or a model family can run on it too: the masked reference that pruning must
equal."""
