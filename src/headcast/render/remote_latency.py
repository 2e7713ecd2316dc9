"""How long a remote engine's server takes to answer, as a session reports it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteLatency:
    """Latencies measured since the last report: ``first_frame_ms`` (the session's first
    speech sent → its first frame back, once per session) and ``chunk_ms`` (each chunk sent →
    its frames back)."""

    engine: str
    first_frame_ms: float | None
    chunk_ms: tuple[float, ...]
