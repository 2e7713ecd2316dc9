"""One real ``headcast serve`` for the whole test session (remote mode: the tests reach it by
URL and key), started from the core's installation (``$HEADCAST_COMMAND``, else the
repository's own ``.venv``)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from headcast_client import LocalServer

REPO = Path(__file__).resolve().parents[3]
T = TypeVar("T")

os.environ.setdefault("HEADCAST_COMMAND", str(REPO / ".venv" / "bin" / "headcast"))


class LoopThread:
    """An event loop in a thread of its own, so that a server started on it outlives the
    ``asyncio.run`` of each test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = 180.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout_s)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="session")
def server() -> Iterator[LocalServer]:
    thread = LoopThread()
    local = LocalServer()
    thread.run(local.start())
    yield local
    thread.run(local.stop())
    thread.close()
