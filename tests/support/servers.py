"""Real headcast servers on loopback ports, in a background thread of the test process, and the
one factory of the tests' server fixtures."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from headcast.server import ServerConfig, create_app
from headcast.server.http.uvicorn_config import uvicorn_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_config(root: Path, *, shared_dir: bool = False, **settings: Any) -> ServerConfig:
    """A configuration keeping its data in ``root/data``; ``settings`` as for
    ``ServerConfig.from_env``. Callers are anonymous unless ``api_keys`` are given. With
    ``shared_dir``, ``root/shared`` (made here) is the folder that requests may name files in."""
    if "api_keys" not in settings:
        settings.setdefault("allow_anonymous", True)
    if shared_dir:
        settings["shared_dir"] = root / "shared"
        settings["shared_dir"].mkdir()
    return ServerConfig.from_env({}, data_dir=root / "data", **settings)


@dataclass
class RunningServer:
    config: ServerConfig
    base_url: str
    ws_url: str
    app: FastAPI


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


def server_fixture(*, shared_dir: bool = False, **settings: Any) -> Callable[..., Any]:
    """A module-scoped fixture: a server on a fresh data directory, configured as by
    ``server_config``. Assign it to the fixture's name in a test module::

        server = server_fixture(api_keys=("k1",), max_text_chars=500)
    """

    @pytest.fixture(scope="module")
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
        root = tmp_path_factory.mktemp("server")
        with running_server(server_config(root, shared_dir=shared_dir, **settings)) as running:
            yield running

    return fixture
