"""Test fixtures for code built on this client: one real ``headcast serve`` for a whole test
session, started by LocalServer from a headcast installation (``$HEADCAST_COMMAND``), on an
event loop of its own so that it outlives each test's ``asyncio.run``.

Import them in a ``conftest.py``: ``from headcast_client.testing import server, server_loop``
(with pytest installed; nothing else here imports this module). ``judged_lipsync`` has the
core's independent judge read a video an integration made."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
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


def judged_lipsync(video: Path, recording: str, repo: Path) -> dict[str, Any]:
    """The figures ``quality.lipsync_verdict`` finds in ``video`` of the LibriVox reading
    ``recording`` (its reference phones), run by the core's python in ``repo``."""
    core_python = repo / ".venv" / "bin" / "python"
    judged = subprocess.run(
        [str(core_python), "-m", "quality.lipsync_verdict", str(video), "--phones-of", recording],
        capture_output=True,
        text=True,
        cwd=repo,
        timeout=300,
    )
    assert judged.returncode == 0, judged.stderr[-3000:]
    figures: dict[str, Any] = json.loads(judged.stdout)
    return figures
