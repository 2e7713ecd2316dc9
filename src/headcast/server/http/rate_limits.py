"""Per-key request rates and failed-key throttling: sliding one-minute windows per name."""

from __future__ import annotations

import threading
import time
from collections import deque

from headcast.server.http.errors import ApiError

RATE_WINDOW_S = 60.0


class SlidingWindow:
    """Event times per name over the last ``RATE_WINDOW_S``; at most ``limit`` counted.

    Names whose events have all expired are forgotten (once a window), so a stream of new
    client addresses cannot grow the table without bound.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._swept_at = time.monotonic()

    def retry_after_s(self, name: str, now: float, count_it: bool = False) -> int | None:
        """Seconds until ``name`` is under its limit again, or None when it is under it now
        (and then, with ``count_it``, this event is counted)."""
        with self._lock:
            hits = self._hits.get(name)
            if hits is not None:
                while hits and now - hits[0] > RATE_WINDOW_S:
                    hits.popleft()
                if len(hits) >= self.limit:
                    return max(1, int(RATE_WINDOW_S - (now - hits[0])) + 1)
            if count_it:
                self._add(name, now)
            return None

    def add(self, name: str, now: float) -> None:
        with self._lock:
            self._add(name, now)

    def _add(self, name: str, now: float) -> None:
        self._hits.setdefault(name, deque()).append(now)
        if now - self._swept_at > RATE_WINDOW_S:
            self._swept_at = now
            for stale in [n for n, h in self._hits.items() if not h or now - h[-1] > RATE_WINDOW_S]:
                del self._hits[stale]


class RateLimiter:
    """Sliding one-minute window of request times per caller."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._window = SlidingWindow(per_minute)

    def check(self, caller: str) -> None:
        if self.per_minute <= 0:
            return
        retry = self._window.retry_after_s(caller, time.monotonic(), count_it=True)
        if retry is not None:
            raise ApiError(
                429, "rate_limited", f"more than {self.per_minute} requests per minute",
                headers={"Retry-After": str(retry)},
            )  # fmt: skip


class AuthFailureThrottle:
    """Wrong keys per client address in the last minute; past the limit the address is refused
    before any key is compared, so keys cannot be guessed at the speed of the network."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._window = SlidingWindow(per_minute)

    def check(self, address: str) -> None:
        if self.per_minute <= 0:
            return
        retry = self._window.retry_after_s(address, time.monotonic())
        if retry is not None:
            raise ApiError(
                429,
                "too_many_auth_failures",
                f"more than {self.per_minute} wrong API keys per minute from this address",
                headers={"Retry-After": str(retry)},
            )

    def record_failure(self, address: str) -> None:
        if self.per_minute > 0:
            self._window.add(address, time.monotonic())
