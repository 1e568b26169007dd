"""Spectral score smoothing (AudioKV): an FFT low-pass of the audio tokens' scores along time, before selection.

A method's token scores are noisy from one audio frame to the next; AudioKV keeps only the low frequencies of the
score sequence, so that a stretch of important audio is kept as a stretch rather than as scattered spikes. Here
``cutoff`` is the fraction of the spectrum kept: of the ``n // 2 + 1`` frequency bins of ``n`` scores (real FFT),
the lowest ``ceil(cutoff * (n // 2 + 1))`` are kept (at least the mean, bin 0) and the others set to 0.

Each contiguous run of audio positions in a sample is one timeline and is filtered on its own: scores never leak
across text, padding or from one clip to the next. Positions outside the audio are returned as they are. The
filter runs in float64 and the result takes the scores' dtype.
"""

from __future__ import annotations

import math
import numbers

import torch

# ceil(cutoff * bins) in floating point: products within this distance above an integer count as that integer
_ROUNDOFF = 1e-9


def check_cutoff(cutoff: object) -> float | None:
    """``cutoff`` as a float in (0, 1], or None (smoothing off); ``ValueError`` naming ``smooth`` otherwise."""
    if cutoff is None:
        return None
    if isinstance(cutoff, bool) or not isinstance(cutoff, numbers.Real) or not 0.0 < cutoff <= 1.0:
        raise ValueError(
            f"smooth must be None (off) or the fraction of the score spectrum kept, in (0, 1], got {cutoff!r}"
        )
    return float(cutoff)


def low_pass(values: torch.Tensor, cutoff: float) -> torch.Tensor:
    """``values`` (1-D, along time) with the frequency bins above the lowest ``ceil(cutoff * (n // 2 + 1))`` set to 0;
    ``values`` itself where every bin is kept (cutoff 1.0, or too few values to drop any)."""
    n = values.numel()
    bins = n // 2 + 1
    kept = max(1, math.ceil(cutoff * bins - _ROUNDOFF))
    if kept >= bins:
        return values
    spectrum = torch.fft.rfft(values.double())
    spectrum[kept:] = 0
    return torch.fft.irfft(spectrum, n=n).to(values.dtype)


def smooth_scores(scores: torch.Tensor, audio_mask: torch.Tensor, cutoff: float | None) -> torch.Tensor:
    """``(B, L)`` scores with each contiguous run of ``audio_mask`` positions low-passed (:func:`low_pass`); the other
    positions untouched. ``scores`` itself when ``cutoff`` is None."""
    if cutoff is None:
        return scores
    if scores.shape != audio_mask.shape:
        raise ValueError(
            f"scores has shape {tuple(scores.shape)}, audio_mask {tuple(audio_mask.shape)}; they must match"
        )
    smoothed = scores.clone()
    for row in range(scores.shape[0]):
        for start, end in audio_runs(audio_mask[row]):
            smoothed[row, start:end] = low_pass(scores[row, start:end], cutoff)
    return smoothed


def audio_runs(mask: torch.Tensor) -> list[tuple[int, int]]:
    """``[(start, end), ...]``: the maximal runs of True in the 1-D bool ``mask``, as half-open ranges in order."""
    edges = torch.diff(mask.int(), prepend=mask.new_zeros(1).int(), append=mask.new_zeros(1).int())
    starts = (edges == 1).nonzero().squeeze(-1).tolist()
    ends = (edges == -1).nonzero().squeeze(-1).tolist()
    return list(zip(starts, ends, strict=True))
