"""How long a remote engine's server takes to answer, as a session reports it, and where
renders that no live session carries report it: the observers this process has added."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteLatency:
    """Latencies measured since the last report: ``first_frame_ms`` (the session's first
    speech sent → its first frame back, once per session) and ``chunk_ms`` (each chunk sent →
    its frames back)."""

    engine: str
    first_frame_ms: float | None
    chunk_ms: tuple[float, ...]


LatencyObserver = Callable[[RemoteLatency], None]

_observers: list[LatencyObserver] = []
_observers_lock = threading.Lock()


def observe_remote_latency(observer: LatencyObserver) -> None:
    """Have ``observer`` called with each latency a render reports (once however often added)."""
    with _observers_lock:
        if observer not in _observers:
            _observers.append(observer)


def report_remote_latency(latency: RemoteLatency) -> None:
    """Hand ``latency`` to every observer (a service's metrics); nothing happens without one."""
    with _observers_lock:
        observers = tuple(_observers)
    for observer in observers:
        observer(latency)
