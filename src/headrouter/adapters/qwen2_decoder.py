"""The adapter half shared by models that put an audio tower in front of a Qwen2 decoder: ``model.model`` receives
``input_ids``, the padding mask and the cache before the tower runs and scatters its output into the placeholders;
``model.model.language_model`` is a Qwen2 decoder (q/k/v with bias, no q/k norms, 1-D RoPE, full attention).
Qwen2-Audio and Audio Flamingo 3 are such models; their adapters add only what differs (inputs they refuse, how
their processors take long audio, their published widths and how their processor lays out one clip).

The benchmarking section is shared too: the built-in benchmark model is the family's tiny model (``tiny_module``:
its tiny audio tower, 256-token vocabulary and special ids, so its prompts are those of the tiny models) with the
decoder widths of a released checkpoint."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from headrouter.adapters.base import ModelAdapter
from headrouter.adapters.rotary import input_norm_key_projection, rotary_query_key

BENCH_VOCAB_SIZE = 256
"""The built-in benchmark model's vocabulary: the tiny tokenizer's, so the LM head costs next to nothing."""


class Qwen2DecoderAdapter(ModelAdapter):
    """A model of ``model_classes[0]`` (loaded with that transformers class) with its ``processor_class``."""

    processor_class: ClassVar[str] = ""
    """The transformers class name of the family's processor."""

    tiny_module: ClassVar[str] = ""
    """The module of the family's tiny models (``tiny_config(num_layers, hidden_size, num_heads, num_kv_heads,
    vocab_size)``), from which the built-in benchmark model is built."""

    audio_boundary_offsets: ClassVar[tuple[int, int] | None] = None
    """Where the processor's audio start and end tokens sit relative to the placeholder id, for families that write
    ``<start> <placeholder>*n <end>`` for a clip; None for those that write the placeholders alone."""

    @property
    def entry(self) -> nn.Module:
        return self.model.model

    @property
    def forward_module(self) -> nn.Module:
        return self.model

    @property
    def layers(self) -> nn.ModuleList:
        return self.model.model.language_model.layers

    @property
    def text_config(self):
        return self.model.model.language_model.config

    @property
    def audio_token_id(self) -> int:
        return int(self.model.config.audio_token_id)

    def attention(self, layer: nn.Module) -> nn.Module:
        return layer.self_attn

    def key_projection(self, index: int) -> Callable[[torch.Tensor], torch.Tensor]:
        return input_norm_key_projection(self.layers[index])

    def project_query_key(self, attention, hidden_states, position_embeddings, query_index):
        # imported here, where the model (and so its modeling code) exists: importing headrouter stays light
        from transformers.models.qwen2.modeling_qwen2 import rotate_half

        return rotary_query_key(attention, hidden_states, position_embeddings, query_index, rotate_half)

    @classmethod
    def load_model(cls, path: str | Path, dtype: str = "auto", attn_implementation: str | None = None) -> nn.Module:
        import transformers

        kwargs = {"dtype": dtype, "local_files_only": True}
        if attn_implementation is not None:
            kwargs["attn_implementation"] = attn_implementation
        return getattr(transformers, cls.model_classes[0]).from_pretrained(str(path), **kwargs).eval()

    @classmethod
    def load_processor(cls, path: str | Path):
        import transformers

        return getattr(transformers, cls.processor_class).from_pretrained(str(path), local_files_only=True)

    # ------------------------------------------------------------------------------------------------ benchmarking

    @classmethod
    def random_model(
        cls, shape: str, num_layers: int, *, dtype: torch.dtype = torch.float32, attn_implementation: str = "sdpa"
    ) -> nn.Module:
        if shape not in cls.published_shapes:
            raise ValueError(f"{cls.title} has no published shape {shape!r}; known: {', '.join(cls.published_shapes)}")
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be an int >= 1, got {num_layers!r}")
        widths = cls.published_shapes[shape]
        config = import_module(cls.tiny_module).tiny_config(
            num_layers=num_layers,
            hidden_size=widths["hidden_size"],
            num_heads=widths["num_attention_heads"],
            num_kv_heads=widths["num_key_value_heads"],
            vocab_size=BENCH_VOCAB_SIZE,
        )
        text_config = config.text_config
        text_config.intermediate_size = widths["intermediate_size"]
        text_config.rms_norm_eps = widths["rms_norm_eps"]
        text_config.rope_parameters = {"rope_type": "default", "rope_theta": widths["rope_theta"]}
        return cls._random_weights(config, dtype, attn_implementation)

    @classmethod
    def random_model_from_config(
        cls, path: str | Path, *, dtype: torch.dtype = torch.float32, attn_implementation: str = "sdpa"
    ) -> nn.Module:
        import transformers

        config_class = getattr(transformers, cls.model_classes[0]).config_class
        return cls._random_weights(
            config_class.from_dict(json.loads(Path(path).read_text())), dtype, attn_implementation
        )

    @classmethod
    def _random_weights(cls, config, dtype: torch.dtype, attn_implementation: str) -> nn.Module:
        import transformers

        model_class = getattr(transformers, cls.model_classes[0])
        return model_class._from_config(config, attn_implementation=attn_implementation, dtype=dtype).eval()

    def _audio_boundaries(self) -> tuple[int, int] | None:
        if self.audio_boundary_offsets is None:
            return None
        start, end = self.audio_boundary_offsets
        return self.audio_token_id + start, self.audio_token_id + end

    def special_token_ids(self) -> list[int]:
        ids = {self.audio_token_id, *(self._audio_boundaries() or ())}
        if self.text_config.pad_token_id is not None:
            ids.add(int(self.text_config.pad_token_id))
        return sorted(ids)

    def placeholder_prompt(
        self, audio_tokens: int, *, text_before: int, text_after: int, seed: int = 0
    ) -> dict[str, torch.Tensor]:
        """As the base describes; the audio start and end tokens only where the family's processor writes them."""
        if audio_tokens < 1 or text_before < 0 or text_after < 0:
            raise ValueError(
                f"placeholder_prompt needs audio_tokens >= 1 and text lengths >= 0, got audio_tokens={audio_tokens}, "
                f"text_before={text_before}, text_after={text_after}"
            )
        special = set(self.special_token_ids())
        vocab = int(self.text_config.vocab_size)
        ordinary = torch.tensor([i for i in range(2, min(vocab, 1000)) if i not in special])
        generator = torch.Generator().manual_seed(seed)
        text = ordinary[torch.randint(len(ordinary), (text_before + text_after,), generator=generator)].tolist()
        audio = [self.audio_token_id] * audio_tokens
        boundaries = self._audio_boundaries()
        if boundaries is not None:
            audio = [boundaries[0], *audio, boundaries[1]]
        input_ids = torch.tensor([text[:text_before] + audio + text[text_before:]])
        return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
