"""The built-in warp engine."""

from headcast.render.warp.engine import WarpEngine, WarpPlan, WarpSession

__all__ = ["WarpEngine", "WarpPlan", "WarpSession"]
