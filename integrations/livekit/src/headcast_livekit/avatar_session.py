"""headcast as a LiveKit Agents avatar in one line: ``await AvatarSession(portrait=...).start(
session, room=ctx.room)``. The avatar's video and the speech it lip-syncs are published by
the agent's own participant, as LiveKit's local avatars (bitHuman's) do."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from pathlib import Path

from headcast_client import LocalServer, StreamOptions
from livekit import rtc
from livekit.agents import AgentSession
from livekit.agents.voice.avatar import AvatarOptions, AvatarRunner, QueueAudioOutput
from livekit.agents.voice.avatar import AvatarSession as AvatarSessionBase

from headcast_livekit.video_generator import HeadcastVideoGenerator

logger = logging.getLogger("headcast_livekit")

URL_VARIABLE = "HEADCAST_URL"  # remote mode when set and no url= is given
API_KEY_VARIABLE = "HEADCAST_API_KEY"
# What agents' TTS engines mostly emit, and what LiveKit publishes without resampling twice.
SAMPLE_RATE_HZ = 24_000


class AvatarSession(AvatarSessionBase):
    """A headcast avatar for an ``AgentSession``.

    Remote mode, with ``url`` (or ``$HEADCAST_URL``) and ``api_key`` (or
    ``$HEADCAST_API_KEY``): a running ``headcast serve`` renders the avatar. Local mode,
    without a URL: ``start`` runs ``headcast serve`` on a loopback port as a child process from
    ``headcast_command`` (default ``$HEADCAST_COMMAND``, else ``headcast`` on the PATH) and
    ``aclose`` (called at the job's shutdown) stops it.

    ``portrait`` is a photo (a path or its bytes), or ``avatar_id`` names an avatar stored on
    the server. ``start`` sets ``agent_session.output.audio`` to the avatar's queue: the agent's
    speech is published with the avatar's frames, in step with them."""

    def __init__(
        self,
        *,
        portrait: str | Path | bytes | None = None,
        avatar_id: str | None = None,
        url: str | None = None,
        api_key: str | None = None,
        headcast_command: str | list[str] | None = None,
        size_px: int = 512,
        fps: int = 25,
        sample_rate_hz: int = SAMPLE_RATE_HZ,
        head_motion: float | None = None,
        engine: str | None = None,
        seed: int = 0,
        server_ready_timeout_s: float = 120.0,
    ) -> None:
        super().__init__()
        if portrait is None and avatar_id is None:
            raise ValueError("AvatarSession needs a portrait or an avatar_id")
        if isinstance(portrait, str | Path):
            portrait = Path(portrait).read_bytes()
        self.url = url or os.environ.get(URL_VARIABLE) or None
        self.mode = "remote" if self.url else "local"
        self._api_key = api_key if api_key is not None else os.environ.get(API_KEY_VARIABLE, "")
        self._options = StreamOptions(
            url=self.url or "http://127.0.0.1",  # local mode: the child's URL at start
            api_key=self._api_key,
            portrait=portrait,
            avatar_id=avatar_id,
            size_px=size_px,
            fps=fps,
            input_sample_rate_hz=sample_rate_hz,
            output_sample_rate_hz=sample_rate_hz,
            head_motion=head_motion,
            engine=engine,
            seed=seed,
        )
        self.local_server: LocalServer | None = None
        if self.mode == "local":
            # Resolved now, so a missing installation fails where the avatar is configured.
            self.local_server = LocalServer(
                headcast_command, ready_timeout_s=server_ready_timeout_s
            )
        self.video_generator: HeadcastVideoGenerator | None = None
        self.audio_output: QueueAudioOutput | None = None
        self.runner: AvatarRunner | None = None

    @property
    def avatar_identity(self) -> str:
        # The avatar publishes as the agent's own participant.
        if self._room is not None and self._room.isconnected():
            return self._room.local_participant.identity
        return "headcast-avatar"

    @property
    def provider(self) -> str:
        return "headcast"

    async def start(self, agent_session: AgentSession, room: rtc.Room) -> None:
        self._room = room  # before the base's join wait reads avatar_identity
        await super().start(agent_session, room)
        try:
            options = self._options
            if self.local_server is not None:
                await self.local_server.start()
                options = dataclasses.replace(
                    options, url=self.local_server.url, api_key=self.local_server.api_key
                )
            restart = (
                functools.partial(restart_if_exited, self.local_server)
                if self.local_server is not None
                else None
            )
            self.video_generator = await HeadcastVideoGenerator(
                options, before_reconnect=restart
            ).start()
        except BaseException:
            await self.aclose()
            raise
        generator = self.video_generator
        self.audio_output = QueueAudioOutput(sample_rate=options.input_sample_rate_hz)
        self.runner = AvatarRunner(
            room,
            audio_recv=self.audio_output,
            video_gen=generator,
            options=AvatarOptions(
                video_width=generator.video_width,
                video_height=generator.video_height,
                video_fps=generator.video_fps,
                audio_sample_rate=generator.audio_sample_rate,
                audio_channels=1,
            ),
        )
        generator.set_av_sync(self.runner.av_sync)
        await self.runner.start()
        agent_session.output.audio = self.audio_output
        logger.info(
            "headcast avatar started (%s mode, %s, %dx%d at %g fps)",
            self.mode,
            options.url,
            generator.video_width,
            generator.video_height,
            generator.video_fps,
        )

    async def aclose(self) -> None:
        """Idempotent: stops the runner, the stream and, in local mode, the server."""
        runner, self.runner = self.runner, None
        if runner is not None:
            await runner.aclose()
        generator, self.video_generator = self.video_generator, None
        if generator is not None:
            await generator.aclose()
        if self.local_server is not None:
            await self.local_server.stop()
        # The base would remove the avatar's participant from the room: here that is the
        # agent itself, so only its listeners are detached.
        room, self._room = self._room, None
        if room is not None:
            room.off("connection_state_changed", self._on_connection_state_changed)
        await super().aclose()


async def restart_if_exited(server: LocalServer) -> None:
    """Starts a local server again (same port and key, so the same URL) if its process has
    exited; AvatarStreamError if it cannot."""
    if server.process is not None and server.process.returncode is None:
        return
    logger.warning("headcast avatar: the local headcast serve exited; starting it again")
    await server.stop()
    await server.start()
