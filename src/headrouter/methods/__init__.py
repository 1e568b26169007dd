"""Scoring methods: one file each, all behind :class:`ScoringMethod` and one registry."""

from . import fastv, frame, headrouter, random  # noqa: F401  (importing registers them)
from .base import ScoringContext, ScoringMethod, available_methods, get_method, register_method
from .fastv import FastV
from .frame import FrameStride
from .headrouter import HeadRouterMethod
from .random import RandomSelection

__all__ = [
    "FastV",
    "FrameStride",
    "HeadRouterMethod",
    "RandomSelection",
    "ScoringContext",
    "ScoringMethod",
    "available_methods",
    "get_method",
    "register_method",
]
