"""The engine that takes over when a remote engine's server fails: none unless configured
(``HEADCAST_ENGINE_FALLBACK``), so a failure is never hidden by default, and a warning in the
log every time it is used."""

from __future__ import annotations

import logging

from headcast import settings
from headcast.errors import EngineError

log = logging.getLogger("headcast.engine")


def fallback_engine(failed: str, error: EngineError) -> str | None:
    """The engine to render on instead of ``failed``, which failed with ``error``; None when
    there is none to take over (no fallback configured, or it is the engine that failed)."""
    fallback = settings.engine_fallback()
    if not fallback or fallback == failed:
        return None
    log.warning(
        "engine '%s' failed (%s); rendering on the fallback engine '%s'", failed, error, fallback
    )
    return fallback
