"""The Engine protocol and the registry that finds engines by name.

Engines are discovered through the ``headcast.engines`` entry-point group, so a GPU engine is
an optional package, never an import of the core.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Protocol

import numpy as np

from headcast.errors import InputError
from headcast.face.avatar import Avatar
from headcast.motion.face_motion import FaceMotion

ENTRY_POINT_GROUP = "headcast.engines"
DEFAULT_ENGINE = "warp"


class EngineSession(Protocol):
    """One avatar being rendered: a frame per FaceMotion."""

    def render(self, motion: FaceMotion) -> np.ndarray: ...

    def close(self) -> None: ...


class Engine(Protocol):
    name: str

    def start(self, avatar: Avatar) -> EngineSession: ...


def available_engines() -> list[str]:
    names = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names | {DEFAULT_ENGINE})


def get_engine(name: str = DEFAULT_ENGINE) -> Engine:
    """The engine registered under ``name``."""
    if name == DEFAULT_ENGINE:
        from headcast.render.warp import WarpEngine

        return WarpEngine()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep.load()()
    raise InputError(f"unknown engine '{name}' (available: {', '.join(available_engines())})")
