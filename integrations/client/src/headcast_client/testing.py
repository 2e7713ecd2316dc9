"""Test fixtures for code built on this client: one real ``headcast serve`` for a whole test
session, started by LocalServer from a headcast installation (``$HEADCAST_COMMAND``), on an
event loop of its own so that it outlives each test's ``asyncio.run``.

Import them in a ``conftest.py``: ``from headcast_client.testing import server, server_loop``
(with pytest installed; nothing else here imports this module)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from headcast_client.local_server import LocalServer

T = TypeVar("T")


class LoopThread:
    """An event loop running in a thread of its own."""

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
def server_loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture(scope="session")
def server(server_loop: LoopThread) -> Iterator[LocalServer]:
    """The session's ``headcast serve``, reached by its ``url`` and ``api_key``."""
    local = LocalServer()
    server_loop.run(local.start())
    yield local
    server_loop.run(local.stop())
