"""MusicFlamingo (``MusicFlamingoForConditionalGeneration``): Audio Flamingo 3's architecture (a Whisper-like tower run
on 30 s windows, a projector and a Qwen2 decoder with 1-D RoPE) plus rotary time embeddings (RoTE) and audio boundary
tokens. ``MusicFlamingoProcessor`` windows each clip as Audio Flamingo 3's does and writes ``<|sound_bos|>``, one
``<sound>`` per audio token (25 per second), ``<|sound_eos|>``; the model scatters the audio embeddings into the
placeholders and expands nothing.

The rotary time embeddings are not decoder positions: ``MusicFlamingoModel.get_audio_features`` rotates the tower's
output features by angles from each frame's time in its clip (window index and frame within the window, found from
the placeholder runs in ``input_ids``), before the projector. What reaches the decoder is one embedding per
placeholder; the decoder's own rotary is Qwen2's 1-D RoPE over ``position_ids``, for audio and text alike. So pruning
at layer K needs nothing beyond Audio Flamingo 3's: a kept audio token keeps its embedding (time rotation included,
computed before layer 0 from the full ``input_ids``) and its own decoder cos/sin, which the engine gathers.
"""

from __future__ import annotations

import torch
from torch import nn

from headrouter.adapters.audio_flamingo3.adapter import AudioFlamingo3Adapter
from headrouter.adapters.musicflamingo import bench


class MusicFlamingoAdapter(AudioFlamingo3Adapter):
    model_classes = ("MusicFlamingoForConditionalGeneration",)
    processor_class = "MusicFlamingoProcessor"

    # benchmarking: the code lives in .bench
    family = "musicflamingo"
    title = "MusicFlamingo"
    published_shapes = bench.PUBLISHED_SHAPES

    @classmethod
    def random_model(cls, shape, num_layers, *, dtype=torch.float32, attn_implementation="sdpa") -> nn.Module:
        return bench.random_model(shape, num_layers, dtype=dtype, attn_implementation=attn_implementation)

    @classmethod
    def random_model_from_config(cls, path, *, dtype=torch.float32, attn_implementation="sdpa") -> nn.Module:
        return bench.random_model_from_config(path, dtype=dtype, attn_implementation=attn_implementation)

    def placeholder_prompt(self, audio_tokens, *, text_before, text_after, seed=0):
        return bench.placeholder_prompt(
            self.model, audio_tokens, text_before=text_before, text_after=text_after, seed=seed
        )

    def special_token_ids(self) -> list[int]:
        return bench.special_token_ids(self.model)
