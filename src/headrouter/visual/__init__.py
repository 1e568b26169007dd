"""Pictures of what pruning kept: :func:`kept_tokens` computes, per method, which audio tokens of one clip survive;
:func:`plot_kept` draws them under the clip's spectrogram or waveform (``headrouter show`` does both)."""

from headrouter.visual.kept import KeptTokens, MethodKept, kept_tokens
from headrouter.visual.plot import plot_kept

__all__ = ["KeptTokens", "MethodKept", "kept_tokens", "plot_kept"]
