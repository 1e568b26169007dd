"""PruningConfig: the settings of one wrap, validated up front and serializable."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PRUNE_LAYER = 2
"""K: the first pruned layer; attention is read at K-1 (as in the AudioMarathon evaluation code)."""

DEFAULT_METHOD = "headrouter[diversity=0.95]"
"""What ``wrap`` and ``pruning`` prune with unless told otherwise: HeadRouter's routed scores, its top-k taken with the
diversity step (:mod:`headrouter.methods.diversity`, weight 0.95, chosen on calibration items). Measured against the
paper's method (``"headrouter"``): on the short proving ground 4-9 points more of the semantic score at every keep
ratio, on the long one 1.8-2.9 times less output divergence and more of the answer's evidence kept (README)."""

DEFAULT_KEEP_RATIOS = (1.0, 0.7, 0.5, 0.3, 0.1)
"""The keep ratios evaluation and benchmarks sweep unless told otherwise: 1.0 (pruning machinery, nothing dropped)
and the range pruning papers of this field report."""


@dataclass(frozen=True)
class PruningConfig:
    """How much audio to keep and where to cut.

    ``keep_ratio`` in (0, 1]: per sample, ``ceil(keep_ratio * n_audio)`` audio tokens are kept (at least 1).
    ``prune_layer`` K: layers ``>= K`` see only kept tokens; scores come from layer K-1's attention.
    ``method``: a registered method name; ``method_kwargs`` its settings, each held as plain data where it has such a
    form (:func:`~headrouter.methods.base.config_value`: a nested method as its config dict, a head table as its
    directory), else as the object itself (a head table held only in memory). Configs of equal data are equal, and
    :meth:`to_dict` / :meth:`from_dict` round-trip exactly; ``to_dict`` refuses a setting held as an object.
    """

    keep_ratio: float = 0.7
    prune_layer: int = DEFAULT_PRUNE_LAYER
    method: str = "fastv"
    method_kwargs: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        ratio = self.keep_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real):
            raise TypeError(f"keep_ratio must be a number in (0, 1], got {type(ratio).__name__}")
        if not 0.0 < float(ratio) <= 1.0:
            raise ValueError(f"keep_ratio must be in (0, 1], got {ratio}")
        layer = self.prune_layer
        if isinstance(layer, bool) or not isinstance(layer, numbers.Integral):
            raise TypeError(f"prune_layer must be an int, got {type(layer).__name__}")
        object.__setattr__(self, "keep_ratio", float(ratio))
        object.__setattr__(self, "prune_layer", int(layer))
        object.__setattr__(self, "method_kwargs", {k: _as_data(v) for k, v in self.method_kwargs.items()})

    def check_layers(self, num_layers: int) -> None:
        """``ValueError`` unless ``1 <= prune_layer <= num_layers - 1``."""
        if not 1 <= self.prune_layer <= num_layers - 1:
            raise ValueError(
                f"prune_layer must be between 1 and {num_layers - 1} for a decoder of {num_layers} layers, "
                f"got {self.prune_layer}"
            )

    def to_dict(self) -> dict:
        """Plain data (JSON-ready); ``ValueError`` naming the setting if one has no such form, e.g. a head table held
        only in memory: save it with ``table.save_pretrained(directory)`` and pass the directory."""
        from headrouter.methods.base import settings_data

        return {
            "keep_ratio": self.keep_ratio,
            "prune_layer": self.prune_layer,
            "method": self.method,
            "method_kwargs": settings_data(self.method, self.method_kwargs),
        }

    @classmethod
    def from_dict(cls, data: dict) -> PruningConfig:
        """The config :meth:`to_dict` wrote."""
        return cls(**data)


def _as_data(value: Any) -> Any:
    """A setting as plain data where it has such a form, else the object itself (for :meth:`PruningConfig.to_dict` to
    refuse)."""
    from headrouter.methods.base import config_value

    try:
        return config_value(value)
    except ValueError:
        return value
