"""headrouter: training-free audio-token pruning inside large audio language models.

>>> import headrouter
>>> model = headrouter.wrap(model, keep_ratio=0.7)        # a Qwen2.5-Omni model
>>> out = model.generate(**inputs, max_new_tokens=64)      # same API, fewer audio tokens inside
"""

from .adapters import ModelAdapter, supported_models
from .api import pruning, unwrap, wrap
from .calibration import CalibrationSample, calibrate, load_samples
from .config import PruningConfig
from .methods import ScoringContext, ScoringMethod, available_methods, get_method, register_method
from .router import HeadRouter, SampleRecord
from .table import HeadTable

__version__ = "0.1.0"

__all__ = [
    "CalibrationSample",
    "HeadTable",
    "HeadRouter",
    "ModelAdapter",
    "PruningConfig",
    "SampleRecord",
    "ScoringContext",
    "ScoringMethod",
    "available_methods",
    "calibrate",
    "get_method",
    "load_samples",
    "pruning",
    "register_method",
    "supported_models",
    "unwrap",
    "wrap",
]
