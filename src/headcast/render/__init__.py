"""Renderers: the Engine contract, what engines declare, the registry and the warp engine."""

from headcast.render.capabilities import EngineCapabilities, EngineInput, EngineKind
from headcast.render.engine import (
    AudioEngine,
    AudioEngineSession,
    Engine,
    EngineSession,
    FrameRequest,
    MotionEngine,
    PlanningSession,
    RemoteEngine,
    RemoteEngineSession,
)
from headcast.render.frame_audio import FrameAudio
from headcast.render.registry import (
    DEFAULT_ENGINE,
    ENROLLED_ENGINE,
    AvailableEngine,
    available_engines,
    check_engine,
    engine_capabilities,
    engine_for,
    get_engine,
    list_engines,
    register_engine,
    unregister_engine,
)

__all__ = [
    "DEFAULT_ENGINE",
    "ENROLLED_ENGINE",
    "AudioEngine",
    "AudioEngineSession",
    "AvailableEngine",
    "Engine",
    "EngineCapabilities",
    "EngineInput",
    "EngineKind",
    "EngineSession",
    "FrameAudio",
    "FrameRequest",
    "MotionEngine",
    "PlanningSession",
    "RemoteEngine",
    "RemoteEngineSession",
    "available_engines",
    "check_engine",
    "engine_capabilities",
    "engine_for",
    "get_engine",
    "list_engines",
    "register_engine",
    "unregister_engine",
]
