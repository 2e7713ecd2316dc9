"""When new sessions may try a remote engine's server again after it could not be reached."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

# After a server could not be reached, new sessions fail at once (saying why) for this long,
# doubled on each further failure up to the cap: a server that is down is not hammered, and
# one that is back is used by the first session after the wait.
RECONNECT_BACKOFF_S = 0.5
MAX_RECONNECT_BACKOFF_S = 8.0


@dataclass(frozen=True)
class _Unreachable:
    why: str
    retry_at: float  # monotonic s
    backoff_s: float


class ReconnectBackoff:
    """The servers that could not be reached lately, by URL (shared by this process's sessions)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down: dict[str, _Unreachable] = {}

    def refusal(self, url: str) -> str | None:
        """Why a session may not try ``url`` yet, or None when it may."""
        with self._lock:
            down = self._down.get(url)
            left = 0.0 if down is None else down.retry_at - time.monotonic()
        if down is None or left <= 0:
            return None
        return f"{down.why}; the next try is in {left:.1f} s"

    def failed(self, url: str, why: str) -> None:
        with self._lock:
            down = self._down.get(url)
            backoff = (
                RECONNECT_BACKOFF_S
                if down is None
                else min(down.backoff_s * 2, MAX_RECONNECT_BACKOFF_S)
            )
            self._down[url] = _Unreachable(why, time.monotonic() + backoff, backoff)

    def succeeded(self, url: str) -> None:
        with self._lock:
            self._down.pop(url, None)


RECONNECTS = ReconnectBackoff()
