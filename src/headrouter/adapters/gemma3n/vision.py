"""Building a Gemma 3n model without its vision tower: the tiny test models, the benchmark's random models, and
checkpoints loaded where timm is missing.

``Gemma3nModel`` builds its vision tower (timm's MobileNetV5) through ``AutoModel.from_config``, which needs timm even
when no image is ever passed. Audio pruning never runs it, so random-weight models take :class:`VisionTowerStandIn`
in its place: the rest of the model (its image token embedder included) is the real one. Checkpoints are loaded whole
where timm is installed (:meth:`~headrouter.adapters.gemma3n.adapter.Gemma3nAdapter.load_model`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


class VisionTowerStandIn(nn.Module):
    """Fills the vision tower's slot of a random-weight Gemma 3n model; refuses images."""

    def forward(self, *args, **kwargs):
        """Refuses: this random-weight model was built without timm's vision tower."""
        raise RuntimeError("this Gemma 3n model was built without a vision tower: it takes text and audio only")


@contextmanager
def without_vision_tower() -> Iterator[None]:
    """While open, Gemma 3n models are built with :class:`VisionTowerStandIn` as their vision tower (everything else
    ``AutoModel.from_config`` builds is unchanged)."""
    from transformers import Gemma3nVisionConfig
    from transformers.models.gemma3n import modeling_gemma3n

    auto_model = modeling_gemma3n.AutoModel

    class _AutoModel:
        @staticmethod
        def from_config(config, **kwargs):
            if isinstance(config, Gemma3nVisionConfig):
                return VisionTowerStandIn()
            return auto_model.from_config(config, **kwargs)

    modeling_gemma3n.AutoModel = _AutoModel
    try:
        yield
    finally:
        modeling_gemma3n.AutoModel = auto_model
