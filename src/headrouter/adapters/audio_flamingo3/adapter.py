"""Audio Flamingo 3 (``AudioFlamingo3ForConditionalGeneration``): a Whisper-like audio tower run on 30 s windows, a
projector and a Qwen2 decoder with 1-D RoPE. ``AudioFlamingo3Processor`` cuts each clip into windows and writes one
``<sound>`` placeholder per audio token of the whole clip (25 per second), so the audio positions are where
``input_ids`` holds the placeholder; the model scatters the audio embeddings there and expands nothing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

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
        ``truncate_audio``, which hears each clip only up to one window, as for the other families.

        The processor is called with its own padding settings (text padded on the left, every window's features
        padded to the full window): the encoder takes exactly one window of features per row, and the default's
        ``padding=True``, which reaches the feature extractor too, would pad them only to the longest window."""
        window = processor.feature_extractor.n_samples
        if truncate_audio:
            wavs = [w[:window] for w in wavs]
        else:
            limit = int(processor.max_audio_len * self.sampling_rate(processor))
            if any(w.size > limit for w in wavs):
                raise ValueError(
                    f"{self.title}'s processor hears at most {processor.max_audio_len:g} s per clip "
                    f"({limit} samples) and would cut longer audio; pass truncate_audio=True to hear only the first "
                    f"{window / self.sampling_rate(processor):g} s"
                )
        texts = []
        for wav, prompt in zip(wavs, prompts, strict=True):
            system = [] if system_prompt is None else [{"role": "system", "content": system_prompt}]
            user = {"role": "user", "content": [{"type": "audio", "audio": wav}, {"type": "text", "text": prompt}]}
            texts.append(processor.apply_chat_template([*system, user], add_generation_prompt=True, tokenize=False))
        return processor(text=texts, audio=list(wavs))

    # benchmarking: shared with Qwen2-Audio in Qwen2DecoderAdapter
    family = "audio_flamingo3"
    title = "Audio Flamingo 3"
    published_shapes = {
        # nvidia/audio-flamingo-3-hf: the Qwen2.5-7B decoder (head dim 128), as transformers' conversion script
        # writes its text_config
        "7B": {
            "hidden_size": 3584,
            "num_hidden_layers": 28,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "intermediate_size": 18944,
            "rope_theta": 1_000_000.0,
            "rms_norm_eps": 1e-6,
        },
    }
    tiny_module = "headrouter.adapters.audio_flamingo3.tiny"
    # <sound>*n alone: audio_boundary_offsets stays None
