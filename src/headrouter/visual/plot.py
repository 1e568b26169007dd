"""Draw :class:`~headrouter.visual.kept.KeptTokens`: the clip on top, one row per method below, on one time axis.

matplotlib is the optional ``plot`` extra; it is imported when a figure is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from headrouter.visual.kept import KeptTokens, MethodKept

if TYPE_CHECKING:
    from matplotlib.figure import Figure

AUDIO_VIEWS = ("spectrogram", "waveform")
"""What the top row draws: a log-mel spectrogram (librosa) or the waveform."""

ENVELOPE_BINS = 4000
"""A waveform with more samples is drawn as its min/max envelope over this many bins (same picture, small file)."""


def plot_kept(kept: KeptTokens, *, audio: str = "spectrogram", title: str | None = None) -> Figure:
    """A matplotlib figure: the clip (``audio``: ``"spectrogram"`` or ``"waveform"``) on top, then one row per
    method with its kept audio tokens marked along the same time axis (a dropped token leaves a gap).

    ``ImportError`` naming ``pip install 'headrouter[plot]'`` if matplotlib is missing.
    """
    if audio not in AUDIO_VIEWS:
        raise ValueError(f"audio must be one of {', '.join(AUDIO_VIEWS)}, got {audio!r}")
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("plot_kept() needs matplotlib: pip install 'headrouter[plot]'") from error
    rows = len(kept.methods)
    figure, axes = plt.subplots(
        rows + 1,
        1,
        sharex=True,
        figsize=(10, 1.9 + 0.42 * rows),
        gridspec_kw={"height_ratios": [3.2] + [1] * rows, "hspace": 0.12},
        squeeze=False,
    )
    axes = axes[:, 0]
    _draw_audio(axes[0], kept, audio)
    width = 1.0 / kept.tokens_per_second
    span = kept.audio_tokens * width
    for ax, method in zip(axes[1:], kept.methods, strict=True):
        ax.broken_barh([(0.0, span)], (0, 1), color="0.92")
        ax.broken_barh([(start, width) for start in method.starts], (0, 1), color="tab:blue", linewidth=0)
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.set_ylabel(_label(method), rotation=0, ha="right", va="center", fontsize=10)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
    axes[-1].set_xlim(0, max(kept.seconds, span))
    axes[-1].set_xlabel("time (s)")
    count = len(kept.methods[0].indices) if kept.methods else 0
    figure.suptitle(
        title
        or f"audio tokens kept at keep {kept.keep_ratio:g}: {count} of {kept.audio_tokens} "
        f"({kept.tokens_per_second:.1f} per second), pruned from layer {kept.prune_layer}",
        fontsize=11,
    )
    return figure


def _label(method: MethodKept) -> str:
    """The row's name: the method, and the task type it routed the clip to where it reports a mixture."""
    mixture = method.details.get("task_mixture")
    if not mixture:
        return method.method
    return f"{method.method}\n(as {max(mixture, key=mixture.get)})"


def _draw_audio(ax, kept: KeptTokens, view: str) -> None:
    """The top row: the clip's log-mel spectrogram or waveform over its duration."""
    if view == "spectrogram":
        import librosa

        mel = librosa.feature.melspectrogram(y=kept.wav, sr=kept.sampling_rate, n_fft=400, hop_length=160, n_mels=64)
        ax.imshow(
            librosa.power_to_db(mel, ref=np.max),
            origin="lower",
            aspect="auto",
            cmap="magma",
            extent=(0.0, kept.seconds, 0, mel.shape[0]),
        )
        ax.set_ylabel("mel bin")
        return
    wav, rate = kept.wav, kept.sampling_rate
    if wav.size > ENVELOPE_BINS * 2:
        size = wav.size // ENVELOPE_BINS
        bins = wav[: size * ENVELOPE_BINS].reshape(ENVELOPE_BINS, size)
        times = (np.arange(ENVELOPE_BINS) + 0.5) * size / rate
        ax.fill_between(times, bins.min(axis=1), bins.max(axis=1), color="0.3", linewidth=0)
    else:
        ax.plot(np.arange(wav.size) / rate, wav, color="0.3", linewidth=0.6)
    ax.set_ylabel("amplitude")
