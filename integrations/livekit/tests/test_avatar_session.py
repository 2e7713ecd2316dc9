"""AvatarSession: the one-line setup in both modes, wired the way LiveKit's local avatars are
(QueueAudioOutput as the agent's audio output, AvatarRunner reading the generator)."""

from __future__ import annotations

import asyncio

import pytest
from headcast_client import LocalServer
from livekit import rtc
from livekit.agents import AgentSession
from livekit.agents.voice.avatar import AvatarRunner, QueueAudioOutput

from headcast_livekit import AvatarSession, AvatarStreamError
from material import OUTPUT_RATE_HZ, PORTRAIT_PATH


async def answers_readyz(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        reader, writer = await asyncio.open_connection(host, int(port))
    except OSError:
        return False
    writer.write(b"GET /readyz HTTP/1.0\r\n\r\n")
    status = await reader.readline()
    writer.close()
    return b" 200 " in status


def test_local_mode_starts_its_server_and_stops_it_on_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HEADCAST_URL", raising=False)

    async def run() -> None:
        avatar = AvatarSession(portrait=PORTRAIT_PATH, size_px=256)
        assert avatar.mode == "local"
        agent_session = AgentSession()
        await avatar.start(agent_session, room=rtc.Room())
        server = avatar.local_server
        assert server is not None and server.process is not None
        process = server.process
        try:
            assert process.returncode is None
            assert await answers_readyz(server.url)
            assert agent_session.output.audio is avatar.audio_output
            assert isinstance(avatar.audio_output, QueueAudioOutput)
            assert avatar.audio_output.sample_rate == OUTPUT_RATE_HZ
            assert isinstance(avatar.runner, AvatarRunner)
            assert avatar.video_generator is not None and avatar.video_generator.connected
            assert (avatar.video_generator.video_width, avatar.video_generator.video_fps) == (
                256,
                25.0,
            )
        finally:
            await avatar.aclose()
        assert process.returncode is not None
        assert not await answers_readyz(server.url)
        assert avatar.video_generator is None
        await avatar.aclose()  # idempotent

    asyncio.run(run())


def test_remote_mode_reaches_a_running_server_by_url_and_key(server: LocalServer) -> None:
    async def run() -> None:
        avatar = AvatarSession(
            portrait=PORTRAIT_PATH, url=server.url, api_key=server.api_key, size_px=256
        )
        assert avatar.mode == "remote" and avatar.local_server is None
        agent_session = AgentSession()
        await avatar.start(agent_session, room=rtc.Room())
        try:
            assert agent_session.output.audio is avatar.audio_output
            assert avatar.video_generator is not None and avatar.video_generator.connected
        finally:
            await avatar.aclose()

        wrong_key = AvatarSession(portrait=PORTRAIT_PATH, url=server.url, api_key="not-the-key")
        with pytest.raises(AvatarStreamError, match="unauthorized"):
            await wrong_key.start(AgentSession(), room=rtc.Room())
        assert wrong_key.video_generator is None

    asyncio.run(run())
