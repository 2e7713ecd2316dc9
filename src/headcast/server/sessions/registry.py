"""Live sessions shared by every transport: one id, one avatar, one session.

A WebRTC peer and a WebSocket audio feed can address the same session by id. Sessions are
counted against ``max_live_sessions`` and, per owner, against ``live_sessions_per_key`` (one
key cannot take every slot), and freed when their transport disconnects or closes.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from headcast.enrol.portrait import prepare_portrait
from headcast.face.avatar import Avatar
from headcast.limits import DEFAULT_SAMPLE_RATE_HZ
from headcast.live.backlog import AudioBacklog
from headcast.live.pool import RemoteSession, SessionFailed, SessionPool
from headcast.live.protocol import LiveSession
from headcast.motion.head_intensity import HEAD_MOTION_DEFAULT
from headcast.render import engine_for
from headcast.server.config import ServerConfig
from headcast.server.http.errors import ApiError
from headcast.server.http.metrics import record_remote_latency
from headcast.server.sessions.speech import LiveSpeech


@dataclass
class RegisteredSession:
    """A registered live session and who may use it."""

    id: str
    session: LiveSession
    backlog: AudioBacklog  # the speech queued ahead of playback, bounded
    avatar: Avatar
    owner: str
    created_monotonic: float = field(default_factory=time.monotonic)


class LiveSessions:
    """The registry of live sessions of one server process."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._sessions: dict[str, RegisteredSession] = {}
        self._hosted: dict[str, RemoteSession] = {}  # released when their session is closed
        # Held weakly: once nothing is pushing or speaking there is nothing to serialise or to
        # interrupt, and a closed session's state goes with it.
        self._speech: weakref.WeakValueDictionary[str, LiveSpeech] = weakref.WeakValueDictionary()
        # Every session's owner, from the moment its slot is reserved.
        self._owners: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._pool = SessionPool(config.session_processes or config.max_live_sessions)

    def __len__(self) -> int:
        return len(self._sessions)

    async def open(
        self,
        image: bytes | Path | Avatar,
        owner: str,
        *,
        size_px: int | None = None,
        fps: float | None = None,
        output_rate: int = DEFAULT_SAMPLE_RATE_HZ,
        realtime: bool = True,
        head_motion: float = HEAD_MOTION_DEFAULT,
        seed: int = 0,
        engine: str | None = None,
    ) -> RegisteredSession:
        """Analyse the portrait (a photo's bytes or file, or an enrolled avatar's folder; off
        the event loop) and register a new session, drawn by ``engine`` (None: the portrait's
        own), its head moving with intensity ``head_motion`` (0 to 1)."""
        async with self._lock:
            if len(self._sessions) >= self.config.max_live_sessions:
                raise ApiError(
                    503, "too_many_sessions",
                    f"all {self.config.max_live_sessions} live sessions are in use",
                    headers={"Retry-After": "5"},
                )  # fmt: skip
            per_key = self.config.live_sessions_per_key
            if self.count_owned(owner) >= per_key:
                raise ApiError(
                    429, "too_many_sessions",
                    f"this key already holds its limit of {per_key} live sessions",
                    headers={"Retry-After": "5"},
                )  # fmt: skip
            session_id = secrets.token_urlsafe(12)
            # Reserve the slot while the avatar is prepared.
            self._sessions[session_id] = None  # type: ignore[assignment]
            self._owners[session_id] = owner
        try:
            avatar = (
                image
                if isinstance(image, Avatar)
                else await asyncio.to_thread(
                    prepare_portrait, image, size_px or self.config.default_size_px, name="image"
                )
            )
            # Resolved here: a session process receives the Avatar (its enrolled folder in
            # ``avatar.enrolment``) and opens the enrolled avatar itself.
            engine = engine_for(avatar, engine)
            session = await self._pool.open(
                avatar,
                session_id,
                max_backlog_s=self.config.max_live_backlog_s,
                fps=fps or self.config.default_fps,
                output_rate=output_rate,
                realtime=realtime,
                head_motion=head_motion,
                seed=seed,
                engine=engine,
            )
        except SessionFailed as exc:
            self._forget(session_id)
            raise ApiError(
                503, "session_failed", f"the live session could not start: {exc}"
            ) from None
        except BaseException:
            self._forget(session_id)
            raise
        session.on_remote_latency = record_remote_latency
        live = RegisteredSession(session_id, session, session.backlog, avatar, owner)
        self._hosted[session_id] = session
        self._sessions[session_id] = live
        return live

    def get(self, session_id: str, caller: str | None = None) -> RegisteredSession:
        live = self._sessions.get(session_id)
        if live is None:
            raise ApiError(404, "no_such_session", f"no live session '{session_id}'")
        if caller is not None and live.owner != caller:
            raise ApiError(403, "forbidden", "the session belongs to another caller")
        return live

    def count_owned(self, owner: str) -> int:
        """Sessions ``owner`` holds, those still starting included."""
        return sum(1 for holder in self._owners.values() if holder == owner)

    def close(self, session_id: str) -> None:
        """Free the session; safe to call more than once."""
        self._forget(session_id)
        hosted = self._hosted.pop(session_id, None)
        if hosted is not None:
            hosted.release()

    def _forget(self, session_id: str) -> RegisteredSession | None:
        self._owners.pop(session_id, None)
        return self._sessions.pop(session_id, None)

    def speech(self, live: RegisteredSession) -> LiveSpeech:
        """The session's ``LiveSpeech``, shared by every request and microphone feeding it now."""
        speech = self._speech.get(live.id)
        if speech is None or speech.session is not live.session:
            speech = LiveSpeech(live.session, live.backlog)
            self._speech[live.id] = speech
        return speech

    @property
    def pool(self) -> SessionPool:
        return self._pool

    def close_all(self) -> None:
        """Free every session and stop the session processes."""
        for session_id in list(self._sessions):
            self.close(session_id)
        self._pool.close()
