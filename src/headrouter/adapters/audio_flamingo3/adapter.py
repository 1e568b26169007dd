"""Audio Flamingo 3 (``AudioFlamingo3ForConditionalGeneration``): a Whisper-like audio tower run on 30 s windows, a
projector and a Qwen2 decoder with 1-D RoPE. ``AudioFlamingo3Processor`` cuts each clip into windows and writes one
``<sound>`` placeholder per audio token of the whole clip (25 per second), so the audio positions are where
``input_ids`` holds the placeholder; the model scatters the audio embeddings there and expands nothing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from headrouter.adapters import chat_inputs
from headrouter.adapters.qwen2_decoder import Qwen2DecoderAdapter


class AudioFlamingo3Adapter(Qwen2DecoderAdapter):
    model_classes = ("AudioFlamingo3ForConditionalGeneration",)
    processor_class = "AudioFlamingo3Processor"

    def build_inputs(
        self,
        processor,
        wavs: Sequence[np.ndarray],
        prompts: Sequence[str],
        *,
        system_prompt: str | None = None,
        truncate_audio: bool = False,
    ):
        """As the default, but through the processor's own windowing: ``AudioFlamingo3Processor`` cuts each clip into
        windows of the feature extractor's chunk length (30 s) and hears up to its ``max_audio_len`` (600 s by
        default), cutting longer audio with only a log warning. Longer audio is refused here unless
        ``truncate_audio``, which hears each clip only up to one window, as for the other families."""
        window = processor.feature_extractor.n_samples
        if truncate_audio:
            wavs = [w[:window] for w in wavs]
        else:
            limit = int(processor.max_audio_len * self.sampling_rate(processor))
            if any(w.size > limit for w in wavs):
                raise ValueError(
                    f"Audio Flamingo 3's processor hears at most {processor.max_audio_len:g} s per clip "
                    f"({limit} samples) and would cut longer audio; pass truncate_audio=True to hear only the first "
                    f"{window / self.sampling_rate(processor):g} s"
                )
        # the processor windows the audio itself: call it plainly (no max_length / truncation audio kwargs)
        return chat_inputs.build_inputs(processor, wavs, prompts, system_prompt=system_prompt, truncate_audio=True)

    # no built-in benchmark model (family stays unset): benchmark a checkpoint with --model
    title = "Audio Flamingo 3"
