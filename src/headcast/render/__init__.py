"""Renderers: the Engine protocol, the registry and the built-in warp engine."""

from headcast.render.engine import Engine, EngineSession, available_engines, get_engine

__all__ = ["Engine", "EngineSession", "available_engines", "get_engine"]
