"""``headcast serve`` in a process of its own, to stop or kill like a deployed server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from headcast.face.avatar import default_cache_dir
from tests.conftest import ROOT
from tests.support.servers import free_port


class ServeProcess:
    """``headcast serve`` in its own process, on a free loopback port (or ``port``)."""

    def __init__(
        self,
        data_dir: Path,
        *args: str,
        env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.port = port if port is not None else free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"serve-{self.port}.log"
        environ = {
            **os.environ,
            # The avatars this test process prepared are found there, not prepared again.
            "HEADCAST_CACHE_DIR": str(default_cache_dir().parent),
            "HEADCAST_RATE_LIMIT_PER_MIN": "0",
            **(env or {}),
        }
        command = [sys.executable, "-m", "headcast", "serve", "--port", str(self.port)]
        command += ["--data-dir", str(data_dir), "--allow-anonymous", *args]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self, timeout_s: float = 60.0) -> ServeProcess:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.base_url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the server did not become ready: {self.log.read_text()[-2000:]}")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=60)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
