"""``headcast serve`` as a child process on a free loopback port, from a configured headcast
installation: the agent's side needs no MediaPipe or OpenCV of its own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shlex
import shutil
import signal
import socket
import tempfile
from pathlib import Path

from headcast_client.stream import AvatarStreamError

COMMAND_VARIABLE = "HEADCAST_COMMAND"
HOST = "127.0.0.1"
READY_POLL_S = 0.2
STOP_TIMEOUT_S = 15.0
LOG_TAIL_CHARS = 2000


def resolve_command(command: str | list[str] | None) -> list[str]:
    """The argv that runs ``headcast``: a list as given; a string naming an existing file as
    that one file (spaces and all), any other string split as a shell would; None from
    ``$HEADCAST_COMMAND``, else ``headcast`` on the PATH."""
    if command is None:
        command = os.environ.get(COMMAND_VARIABLE) or shutil.which("headcast")
        if command is None:
            raise AvatarStreamError(
                "(local)",
                f"no headcast installation: set ${COMMAND_VARIABLE} to its headcast executable "
                "or pass command=",
            )
    if isinstance(command, list):
        return list(command)
    if Path(command).is_file():
        return [command]
    return shlex.split(command)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class LocalServer:
    """Start with ``await server.start()`` (or ``async with``): runs ``command`` (default: the
    ``HEADCAST_COMMAND`` variable, else ``headcast`` on the PATH; a path to an installation's
    ``headcast`` executable or a list like ``["python", "-m", "headcast"]``) as
    ``serve --host 127.0.0.1 --port PORT``, waits until ``/readyz`` answers 200 (an
    AvatarStreamError naming the command and the end of its log if it exits or times out),
    and stops it (SIGTERM, then kill) on ``stop()``, which is idempotent.

    The server accepts only ``api_key`` (a random one when none is given; read it back from
    ``server.api_key``). Its jobs, avatars and log go to ``data_dir`` (a temporary directory,
    removed on ``stop()``, when none is given); ``port`` 0 picks a free one."""

    def __init__(
        self,
        command: str | list[str] | None = None,
        *,
        api_key: str = "",
        ready_timeout_s: float = 120.0,
        extra_args: tuple[str, ...] = (),
        port: int = 0,
        data_dir: str | Path | None = None,
    ) -> None:
        self.url = ""  # http://127.0.0.1:PORT once started
        self.api_key = api_key or secrets.token_urlsafe(24)
        self.command = resolve_command(command)
        self.ready_timeout_s = ready_timeout_s
        self.extra_args = tuple(extra_args)
        self.port = port
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.process: asyncio.subprocess.Process | None = None
        self.log_path: Path | None = None
        self._temporary_dir: Path | None = None

    @property
    def argv(self) -> list[str]:
        return [
            *self.command,
            "serve",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            *self.extra_args,
        ]

    async def start(self) -> LocalServer:
        if self.process is not None:
            return self
        if self.data_dir is None:
            self._temporary_dir = Path(tempfile.mkdtemp(prefix="headcast-local-"))
            self.data_dir = self._temporary_dir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = self.data_dir / "headcast-serve.log"
        env = {**os.environ, "HEADCAST_API_KEYS": self.api_key}
        env.pop("HEADCAST_ALLOW_ANONYMOUS", None)
        try:
            with open(self.log_path, "wb") as log:
                # Its own process group: stop() can reach the session processes it spawns.
                self.process = await asyncio.create_subprocess_exec(
                    *self.argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
        except OSError as exc:
            self._remove_temporary_dir()
            raise AvatarStreamError(self.url, f"cannot run {shlex.join(self.argv)}: {exc}") from exc
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise
        return self

    async def _wait_ready(self) -> None:
        assert self.process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ready_timeout_s
        while True:
            if self.process.returncode is not None:
                raise self._failure(f"exited with code {self.process.returncode}")
            if await _ready(self.port):
                return
            if loop.time() > deadline:
                raise self._failure(f"was not ready within {self.ready_timeout_s:g} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.process.wait()), READY_POLL_S)

    def _failure(self, what: str) -> AvatarStreamError:
        return AvatarStreamError(
            self.url, f"{shlex.join(self.argv)} {what}; the end of its log:\n{self.log_tail()}"
        )

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if process is not None:
            # Session processes left behind by a server that died or was killed.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        self._remove_temporary_dir()

    def _remove_temporary_dir(self) -> None:
        if self._temporary_dir is not None:
            shutil.rmtree(self._temporary_dir, ignore_errors=True)
            self._temporary_dir = None
            self.data_dir = None

    async def __aenter__(self) -> LocalServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def _ready(port: int) -> bool:
    """Whether ``GET /readyz`` answers 200 (plain HTTP/1.0: no client library needed)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 2.0)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(f"GET /readyz HTTP/1.0\r\nHost: {HOST}:{port}\r\n\r\n".encode())
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 2.0)
        return status.split(b" ")[1:2] == [b"200"]
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
