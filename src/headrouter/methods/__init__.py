"""Scoring methods: one file each, all behind :class:`ScoringMethod` and one registry."""

from . import dart, fastv, frame, headrouter, random, segment  # noqa: F401  (importing registers them)
from .base import ScoringContext, ScoringMethod, available_methods, get_method, register_method
from .dart import DART
from .fastv import FastV
from .frame import FrameStride
from .headrouter import HeadRouterMethod
from .random import RandomSelection
from .segment import SegmentTopK

__all__ = [
    "DART",
    "FastV",
    "FrameStride",
    "HeadRouterMethod",
    "RandomSelection",
    "ScoringContext",
    "ScoringMethod",
    "SegmentTopK",
    "available_methods",
    "get_method",
    "register_method",
]
