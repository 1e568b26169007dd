"""headrouter: training-free audio-token pruning inside large audio language models.

>>> import headrouter
>>> model = headrouter.wrap(model, keep_ratio=0.7)        # a Qwen2.5-Omni model
>>> out = model.generate(**inputs, max_new_tokens=64)      # same API, fewer audio tokens inside

The public names are imported on first use, so ``import headrouter`` and ``headrouter --version`` stay fast: torch
and transformers' model code load only when a name that needs them is touched.
"""

from __future__ import annotations

import warnings
from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "CalibrationSample": "methods.headrouter.samples",
    "HeadTable": "methods.headrouter.table",
    "ModelAdapter": "adapters",
    "Pruner": "engine.pruner",
    "PruningConfig": "config",
    "SampleRecord": "engine.pruner",
    "ScoringContext": "methods",
    "ScoringMethod": "methods",
    "available_methods": "methods",
    "build_inputs": "adapters.chat_inputs",
    "calibrate": "methods.headrouter.calibration",
    "get_method": "methods",
    "load_model": "adapters",
    "load_processor": "adapters",
    "kept_tokens": "visual",
    "load_samples": "methods.headrouter.samples",
    "processor_inputs": "adapters.chat_inputs",
    "plot_kept": "visual",
    "pruning": "api",
    "register_method": "methods",
    "supported_models": "adapters",
    "unwrap": "api",
    "wrap": "api",
}

__all__ = sorted(_EXPORTS)


_RENAMED = {"HeadRouter": "Pruner"}
"""Old public names that still work, with a FutureWarning: ``HeadRouter`` was the engine's name, easily confused with
the ``headrouter`` scoring method it may or may not run."""


def __getattr__(name: str):
    """Import a public name (or a subpackage, e.g. ``headrouter.evaluation``) the first time it is used."""
    if name in _RENAMED:
        warnings.warn(
            f"headrouter.{name} is now headrouter.{_RENAMED[name]}; the old name will be removed",
            FutureWarning,
            stacklevel=2,
        )
        return __getattr__(_RENAMED[name])
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    try:
        return import_module(f".{name}", __name__)
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{name}":
            raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:  # the names above, for type checkers and editors
    from headrouter.adapters import ModelAdapter, load_model, load_processor, supported_models  # noqa: F401
    from headrouter.adapters.chat_inputs import build_inputs, processor_inputs  # noqa: F401
    from headrouter.api import pruning, unwrap, wrap  # noqa: F401
    from headrouter.config import PruningConfig  # noqa: F401
    from headrouter.engine.pruner import Pruner, SampleRecord  # noqa: F401
    from headrouter.methods import ScoringContext, ScoringMethod, available_methods, get_method, register_method  # noqa: F401
    from headrouter.methods.headrouter.calibration import calibrate  # noqa: F401
    from headrouter.methods.headrouter.samples import CalibrationSample, load_samples  # noqa: F401
    from headrouter.methods.headrouter.table import HeadTable  # noqa: F401
    from headrouter.visual import kept_tokens, plot_kept  # noqa: F401
