"""A real headcast server on a loopback port, in a background thread of the test process."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from headcast.server import ServerConfig, create_app
from headcast.server.http.uvicorn_config import uvicorn_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config_with_shared_dir(root: Path, **settings: Any) -> ServerConfig:
    """A configuration keeping its data in ``root/data``, with ``root/shared`` (made here) as the
    folder that requests may name files in; ``settings`` as for ``ServerConfig.from_env``."""
    shared = root / "shared"
    shared.mkdir()
    return ServerConfig.from_env({}, data_dir=root / "data", shared_dir=shared, **settings)


@dataclass
class RunningServer:
    config: ServerConfig
    base_url: str
    ws_url: str
    app: object


@contextmanager
def running_server(config: ServerConfig, timeout_s: float = 30.0) -> Iterator[RunningServer]:
    """Serve ``create_app(config)`` on 127.0.0.1 until the block ends."""
    port = free_port()
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn_config(app, config, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the test server did not become ready")
        time.sleep(0.05)
    try:
        yield RunningServer(config, base, f"ws://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


async def until(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Wait (asynchronously) for ``condition``; an assertion error after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
