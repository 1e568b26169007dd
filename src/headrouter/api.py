"""wrap / unwrap / pruning: the three calls most users need."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

from headrouter.adapters import adapter_for
from headrouter.config import DEFAULT_METHOD, DEFAULT_PRUNE_LAYER, PruningConfig
from headrouter.engine.pruner import Pruner
from headrouter.methods import ScoringMethod, get_method
from headrouter.methods.base import parse_spec
from headrouter.methods.headrouter import HeadRouterMethod
from headrouter.methods.headrouter.discovery import find_table

logger = logging.getLogger("headrouter")

ATTRIBUTE = "headrouter"
"""The router lives at ``model.headrouter`` while the model is wrapped."""


def wrap(
    model: nn.Module,
    keep_ratio: float = 0.7,
    *,
    prune_layer: int = DEFAULT_PRUNE_LAYER,
    method: str | ScoringMethod = DEFAULT_METHOD,
    **method_kwargs,
) -> nn.Module:
    """Prune audio tokens inside ``model``'s decoder from layer ``prune_layer`` on; returns the same model.

    ``generate`` and ``forward`` keep their API. Per sample, ``ceil(keep_ratio * n_audio)`` audio tokens
    (at least 1) are kept, chosen by ``method``: a registered name (:func:`headrouter.available_methods`) with its
    settings as extra keyword arguments, a spec with its settings written in (``"headrouter[diversity=0.95]"``), or a
    :class:`~headrouter.methods.ScoringMethod` object. The router is at ``model.headrouter``.

    The default method is HeadRouter with the diversity step, :data:`~headrouter.config.DEFAULT_METHOD`
    (``"headrouter[diversity=0.95]"``; ``method="headrouter"`` is the paper's method). Named (``"headrouter"``, or a
    spec of it) without a ``table`` setting, HeadRouter finds its head table
    (:func:`~headrouter.methods.headrouter.discovery.find_table`: beside the checkpoint, else the shipped one if the
    model is the shipped model) or runs table-free after one WARNING that says how to calibrate; ``table=None``
    asks for table-free deliberately, and a method object is used as given. The table in use is
    ``model.headrouter.method.table`` (None: table-free).

    Wrapping an already wrapped model replaces its settings: the old router is detached first, so
    wraps never stack.
    """
    scorer = get_method(method, **method_kwargs)  # bad settings fail here, before any look at the model
    named = isinstance(method, str) and "table" not in method_kwargs and "table" not in parse_spec(method)[1]
    if named and isinstance(scorer, HeadRouterMethod):
        table = find_table(model, adapter_for(model))
        scorer = scorer.with_table(table) if table is not None else scorer
    config = PruningConfig(keep_ratio, prune_layer, scorer.name, scorer.settings())
    router = Pruner(model, config, scorer)  # validates the model and the layer before touching it
    if isinstance(getattr(model, ATTRIBUTE, None), Pruner):
        logger.info("model was already wrapped (%r); replacing its settings", getattr(model, ATTRIBUTE))
        unwrap(model)
    setattr(model, ATTRIBUTE, router.attach())
    return model


def unwrap(model: nn.Module) -> nn.Module:
    """Remove pruning from ``model``: no hooks and no router left. A model that is not wrapped is returned as is."""
    router = getattr(model, ATTRIBUTE, None)
    if isinstance(router, Pruner):
        router.detach()
        delattr(model, ATTRIBUTE)
    return model


@contextmanager
def pruning(
    model: nn.Module,
    keep_ratio: float = 0.7,
    *,
    prune_layer: int = DEFAULT_PRUNE_LAYER,
    method: str | ScoringMethod = DEFAULT_METHOD,
    **method_kwargs,
) -> Iterator[Pruner]:
    """Prune inside a ``with`` block; on exit the model is as it was before (unwrapped, or wrapped as before)."""
    previous = getattr(model, ATTRIBUTE, None)
    if isinstance(previous, Pruner):
        previous.detach()
    try:
        wrap(model, keep_ratio, prune_layer=prune_layer, method=method, **method_kwargs)
        yield getattr(model, ATTRIBUTE)
    finally:
        unwrap(model)
        if isinstance(previous, Pruner):
            setattr(model, ATTRIBUTE, previous.attach())
