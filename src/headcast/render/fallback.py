"""The engine that takes over when a remote engine's server fails: none unless configured
(``HEADCAST_ENGINE_FALLBACK``), so a failure is never hidden by default, and a warning in the
log every time it is used."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from headcast import settings
from headcast.errors import EngineError

log = logging.getLogger("headcast.engine")

T = TypeVar("T")


def _fallback_engine(failed: str, error: EngineError) -> str | None:
    """The engine to render on instead of ``failed``, which failed with ``error``; None when
    there is none to take over (no fallback configured, or it is the engine that failed)."""
    fallback = settings.engine_fallback()
    if not fallback or fallback == failed:
        return None
    log.warning(
        "engine '%s' failed (%s); rendering on the fallback engine '%s'", failed, error, fallback
    )
    return fallback


def on_engine_or_fallback(engine: str, render: Callable[[str], T]) -> T:
    """``render(engine)``; if that fails with an EngineError, ``render`` again on the fallback
    engine where one is configured (the error goes on otherwise)."""
    try:
        return render(engine)
    except EngineError as exc:
        fallback = _fallback_engine(engine, exc)
        if fallback is None:
            raise
        return render(fallback)
