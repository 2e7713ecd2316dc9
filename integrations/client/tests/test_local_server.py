"""LocalServer: a child ``headcast serve`` started, used and stopped, and one killed mid-turn."""

from __future__ import annotations

import asyncio
import socket
import urllib.request

import pytest

from headcast_client import AvatarFrame, AvatarStream, AvatarStreamError, LocalServer
from material import options, speech


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_local_server_starts_serves_and_stops() -> None:
    async def scenario() -> LocalServer:
        server = await LocalServer(api_key="k1").start()
        assert server.url == f"http://127.0.0.1:{server.port}"
        data_dir = server.data_dir
        assert data_dir is not None and data_dir.is_dir()
        with urllib.request.urlopen(server.url + "/readyz", timeout=10) as response:
            assert response.status == 200
        await server.stop()
        assert server.process is None and not data_dir.exists()
        assert not _listening(server.port)
        await server.stop()  # idempotent
        return server

    asyncio.run(scenario())


def test_a_server_that_cannot_start_says_why() -> None:
    with pytest.raises(AvatarStreamError, match=r"exited with code 2.*the end of its log"):
        asyncio.run(LocalServer(["python3", "-c", "import sys; sys.exit(2)"]).start())
    with pytest.raises(AvatarStreamError, match="cannot run"):
        asyncio.run(LocalServer(["/nonexistent/headcast"]).start())


def test_a_server_killed_mid_turn_is_a_clear_error() -> None:
    async def scenario() -> tuple[LocalServer, int, AvatarStreamError]:
        server = await LocalServer().start()
        try:
            speaking = 0
            async with AvatarStream(options(server)) as stream:
                await stream.push_audio(speech(seconds=4.0))
                with pytest.raises(AvatarStreamError) as failure:
                    async for item in stream:
                        if isinstance(item, AvatarFrame) and item.speaking:
                            speaking += 1
                            if speaking == 5:
                                assert server.process is not None
                                server.process.kill()
                with pytest.raises(AvatarStreamError):
                    await stream.push_audio(speech(seconds=0.1))
        finally:
            await server.stop()
        return server, speaking, failure.value

    server, speaking, error = asyncio.run(scenario())
    assert speaking < 4 * 25  # the turn did not play out
    assert f"127.0.0.1:{server.port}" in str(error) and "mid-stream" in str(error)
