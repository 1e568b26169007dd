"""HeadRouter (He et al., 2026): the scoring method, its per-head statistics, the calibrated head table and the
calibration that builds it."""

from headrouter.methods.headrouter.method import HeadRouterMethod

__all__ = ["HeadRouterMethod"]
