"""Proofs that users who add a method or a model family can run on it too: the masked reference that pruning must
equal, the proof that compares them (``assert_pruned_equals_masked``), and that the captured attention rows are exact
(``assert_captured_rows_equal_eager``), and that decoding from the pruned cache equals recomputing
(``assert_cached_equals_recomputed``)."""

from headrouter.testing.proofs import (
    assert_cached_equals_recomputed,
    assert_captured_rows_equal_eager,
    assert_pruned_equals_masked,
)
from headrouter.testing.reference import keep_mask_from_pruner, masked_reference

__all__ = [
    "assert_cached_equals_recomputed",
    "assert_captured_rows_equal_eager",
    "assert_pruned_equals_masked",
    "keep_mask_from_pruner",
    "masked_reference",
]
