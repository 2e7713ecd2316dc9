"""Synchronous CPU work of request handlers (lip-sync analysis, photo scoring, /v1/generate
renders), run off the event loop a bounded number at a time.

At most ``config.workers`` calls run at once; at most ``config.max_queued_jobs`` wait. A
request past that gets 429 with Retry-After instead of a place in an ever-growing queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from headcast.server.http.errors import ApiError

T = TypeVar("T")
RETRY_AFTER_S = 5


class WorkSlots:
    """A semaphore with a bounded waiting line, for one server process."""

    def __init__(self, running: int, waiting: int) -> None:
        self._slots = asyncio.Semaphore(running)
        self._max_waiting = waiting
        self._waiting = 0

    async def run(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        if self._slots.locked() and self._waiting >= self._max_waiting:
            raise ApiError(
                429, "busy", "the server is busy; try again shortly",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )  # fmt: skip
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        finally:
            self._slots.release()
