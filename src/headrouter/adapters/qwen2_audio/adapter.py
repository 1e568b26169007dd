"""Qwen2-Audio (``Qwen2AudioForConditionalGeneration``): a Whisper-like audio tower, a linear projector and a Qwen2
decoder with 1-D RoPE. The processor writes one ``<|AUDIO|>`` placeholder per audio token (25 per second), so the
audio positions are where ``input_ids`` holds the placeholder."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from headrouter.adapters.qwen2_decoder import Qwen2DecoderAdapter


class Qwen2AudioAdapter(Qwen2DecoderAdapter):
    model_classes = ("Qwen2AudioForConditionalGeneration",)
    processor_class = "Qwen2AudioProcessor"

    def check_call(self, kwargs: dict) -> None:
        # transformers' legacy path: one placeholder per clip, expanded inside the model to its audio length, so the
        # decoder's sequence is not the input_ids' one. The model takes that path when no two placeholders are
        # adjacent anywhere in the batch; so does this check.
        input_ids = kwargs.get("input_ids")
        if input_ids is None or kwargs.get("input_features") is None or input_ids.shape[1] == 1:
            return
        audio = input_ids == self.audio_token_id
        if not bool((audio[:, :-1] & audio[:, 1:]).any()):
            raise ValueError(
                "headrouter cannot prune Qwen2-Audio inputs with one <|AUDIO|> placeholder per clip (transformers' "
                "legacy expansion inside the model): build the inputs with Qwen2AudioProcessor, which writes one "
                "placeholder per audio token"
            )

    def build_inputs(
        self,
        processor,
        wavs: Sequence[np.ndarray],
        prompts: Sequence[str],
        *,
        system_prompt: str | None = None,
        truncate_audio: bool = False,
    ):
        """As the default, but Qwen2-Audio's encoder takes exactly one window of features (30 s for the released
        checkpoints): longer audio is refused unless ``truncate_audio``."""
        window = processor.feature_extractor.n_samples
        if not truncate_audio and any(w.size > window for w in wavs):
            raise ValueError(
                f"Qwen2-Audio's audio encoder takes at most {window} samples per clip "
                f"({window / self.sampling_rate(processor):g} s); pass truncate_audio=True to cut longer clips"
            )
        return super().build_inputs(processor, wavs, prompts, system_prompt=system_prompt, truncate_audio=True)

    # benchmarking: shared with Audio Flamingo 3 in Qwen2DecoderAdapter
    family = "qwen2_audio"
    title = "Qwen2-Audio"
    published_shapes = {
        # Qwen2-Audio-7B and -7B-Instruct: config.json's sparse text_config (intermediate 11008, rope theta 10000,
        # rms eps 1e-5) over Qwen2Config's defaults (hidden 4096, 32 layers, 32 query and 32 KV heads: head dim 128)
        "7B": {
            "hidden_size": 4096,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "num_key_value_heads": 32,
            "intermediate_size": 11008,
            "rope_theta": 10_000.0,
            "rms_norm_eps": 1e-5,
        },
    }
    tiny_module = "headrouter.adapters.qwen2_audio.tiny"
    # <|audio_bos|> <|AUDIO|>*n <|audio_eos|>: the boundaries follow the placeholder (151646-151648; tiny 250-252)
    audio_boundary_offsets = (1, 2)
