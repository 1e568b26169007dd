"""The adapter half shared by the Qwen omni models (Qwen2.5-Omni, Qwen3-Omni): a full model whose thinker pruning goes
into (text output only: the talker reads the thinker's hidden states of every prompt token), or the thinker alone,
whose ``model`` receives ``input_ids``, the padding mask and the cache before its encoders run and whose decoder is
``thinker.model.language_model``. Each family's adapter adds its projections, loading and benchmark models."""

from __future__ import annotations

import logging

from torch import nn

from headrouter.adapters.base import ModelAdapter

logger = logging.getLogger("headrouter")


class OmniThinkerAdapter(ModelAdapter):
    """A model of ``model_classes``: the full model first, then its thinker."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self.thinker = model.thinker if type(model).__name__ == self.model_classes[0] else model

    def on_wrap(self) -> None:
        if getattr(self.model, "has_talker", False):
            logger.warning(
                "headrouter prunes the thinker only; speech output through the talker needs the thinker's "
                "full-length hidden states and is not supported while pruning: generate with generation_mode='text'."
            )

    def check_call(self, kwargs: dict) -> None:
        # the full model's speech output asks the thinker for hidden states, and feeds those of every prompt token
        # to the talker: pruned layers have fewer
        if kwargs.get("output_hidden_states") and getattr(self.model, "has_talker", False):
            raise RuntimeError(
                f"headrouter cannot prune for speech output: a {self.title} model with a talker asks its thinker for "
                "output_hidden_states and feeds the talker those of every prompt token, which pruning shortens. "
                "Generate text with generation_mode='text', disable the talker (model.disable_talker()), or unwrap "
                "the model"
            )

    @property
    def entry(self) -> nn.Module:
        return self.thinker.model

    @property
    def forward_module(self) -> nn.Module:
        return self.thinker

    @property
    def layers(self) -> nn.ModuleList:
        return self.thinker.model.language_model.layers

    @property
    def text_config(self):
        return self.thinker.model.language_model.config

    @property
    def audio_token_id(self) -> int:
        return int(self.thinker.config.audio_token_id)

    def attention(self, layer: nn.Module) -> nn.Module:
        return layer.self_attn
