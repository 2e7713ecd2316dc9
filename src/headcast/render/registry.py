"""The registry that finds engines by name.

Engines are discovered through the ``headcast.engines`` entry-point group, so a GPU engine is
an optional package, never an import of the core; ``register_engine`` adds one from code (a
plugin set up at run time, a test). Nothing is imported until an engine is asked for or listed.
"""

from __future__ import annotations

import importlib
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from importlib.metadata import entry_points
from typing import Any

from headcast import settings
from headcast.enrol.portrait import is_enrolled
from headcast.errors import InputError
from headcast.face.avatar import Avatar
from headcast.render.capabilities import EngineCapabilities, EngineInput, EngineKind
from headcast.render.engine import Engine

ENTRY_POINT_GROUP = "headcast.engines"
DEFAULT_ENGINE = "warp"
ENROLLED_ENGINE = "enrolled"  # the default for an avatar enrolled from a video
# Found even where the package's metadata is not installed (running from a source tree).
_BUILT_IN = {
    DEFAULT_ENGINE: "headcast.render.warp:WarpEngine",
    ENROLLED_ENGINE: "headcast.render.enrolled:EnrolledEngine",
    "omnirt": "headcast.render.remote.realtime:OmniRTEngine",
    "omnirt-http": "headcast.render.remote.http_generate:OmniRtHttpEngine",
}
# An engine that declares nothing is taken for what the first engines were: motion-driven.
_UNDECLARED = EngineCapabilities(kind=EngineKind.MOTION)

EngineFactory = Callable[[], Engine[Any]]

_registered: dict[str, EngineFactory] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class AvailableEngine:
    name: str
    capabilities: EngineCapabilities


def register_engine(name: str, factory: EngineFactory) -> None:
    """Make ``factory`` (an Engine class, or a callable with a ``capabilities`` attribute that
    returns an engine) available as ``name``, before any entry point of that name."""
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"engine names are letters, digits, '-' and '_': {name!r}")
    with _lock:
        _registered[name] = factory


def unregister_engine(name: str) -> None:
    with _lock:
        _registered.pop(name, None)


def use_endpoint(name: str, endpoint: object) -> None:
    """Make the remote engine ``name`` (whose factory takes a ``RemoteEndpoint``) render on
    ``endpoint`` rather than the one the settings name."""
    unregister_engine(name)
    factory = _factory(name)
    takes_endpoint: Callable[..., Engine[Any]] = factory
    bound: Any = partial(takes_endpoint, endpoint)
    bound.capabilities = capabilities_of(factory)
    register_engine(name, bound)


def available_engines() -> list[str]:
    with _lock:
        registered = set(_registered)
    names = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names | registered | set(_BUILT_IN))


def list_engines() -> list[AvailableEngine]:
    """Every engine by name with what it can do; one that fails to load is left out with a
    warning, so a broken plug-in does not hide the others."""
    out = []
    for name in available_engines():
        try:
            factory = _factory(name)
        except Exception as e:  # an optional package's own import error, whatever it is
            warnings.warn(f"engine '{name}' could not be loaded: {e}", stacklevel=2)
            continue
        out.append(AvailableEngine(name, capabilities_of(factory)))
    return out


def engine_capabilities(name: str) -> EngineCapabilities:
    """What the engine ``name`` can do, without starting it."""
    return capabilities_of(_factory(name))


def check_engine(
    name: str, *, size_px: int, fps: float, live: bool, fed: EngineInput | None = None
) -> EngineCapabilities:
    """What ``name`` can do, once it is known to render ``size_px`` squares at ``fps`` (live or
    into a file), and to take ``fed`` input when given (a render that only has FaceMotion to
    give); InputError naming the engine otherwise. For front ends, before any work."""
    capabilities = engine_capabilities(name)
    capabilities.check(name, size_px=size_px, fps=fps, live=live)
    if fed is not None and capabilities.input is not fed:
        raise InputError(
            f"engine '{name}' is fed {capabilities.input}, not {fed}: use it in a live session"
        )
    return capabilities


def engine_for(portrait: object, requested: str | None = None) -> str:
    """The engine asked for, else the one ``HEADCAST_ENGINE`` names, else the portrait's own:
    an enrolled avatar (an Avatar with its enrolment, or its name or folder) draws from its
    real frames, a photo is warped."""
    if requested:
        return requested
    if configured := settings.engine():
        return configured
    if isinstance(portrait, Avatar):
        enrolled = portrait.enrolment is not None
    else:
        enrolled = is_enrolled(portrait)
    return ENROLLED_ENGINE if enrolled else DEFAULT_ENGINE


def get_engine(name: str = DEFAULT_ENGINE) -> Engine[Any]:
    """The engine registered under ``name``; its session's type follows its kind."""
    engine = _factory(name)()
    if getattr(engine, "capabilities", None) is None:
        engine.capabilities = _UNDECLARED
    return engine


def capabilities_of(factory: object) -> EngineCapabilities:
    declared = getattr(factory, "capabilities", None)
    if declared is None:
        return _UNDECLARED
    if not isinstance(declared, EngineCapabilities):
        raise TypeError(f"{factory!r}: capabilities must be an EngineCapabilities")
    return declared


def _factory(name: str) -> EngineFactory:
    with _lock:
        registered = _registered.get(name)
    if registered is not None:
        return registered
    if name in _BUILT_IN:
        module, _, attribute = _BUILT_IN[name].partition(":")
        try:
            imported = importlib.import_module(module)
        except ModuleNotFoundError as e:
            # The remote engines' clients come with an extra, not with the core.
            raise InputError(
                f"engine '{name}' needs the package '{e.name}': install headcast[remote]"
            ) from e
        factory: EngineFactory = getattr(imported, attribute)
        return factory
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            loaded: EngineFactory = ep.load()
            return loaded
    raise InputError(f"unknown engine '{name}' (available: {', '.join(available_engines())})")
