"""Scoring methods: one file each, all behind :class:`ScoringMethod` and one registry."""

from headrouter.methods import dart, fastv, frame, headrouter, random, segment  # noqa: F401  (importing registers them)
from headrouter.methods.base import (
    ScoringContext,
    ScoringMethod,
    available_methods,
    get_method,
    method_from_config,
    register_method,
)
from headrouter.methods.dart import DART
from headrouter.methods.fastv import FastV
from headrouter.methods.frame import FrameStride
from headrouter.methods.headrouter.method import HeadRouterMethod
from headrouter.methods.random import RandomSelection
from headrouter.methods.segment import SegmentTopK

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
    "method_from_config",
    "register_method",
]
