"""What the running service holds, typed: one ``AppState`` on ``app.state.headcast``.

``create_app`` makes it; the lifespan fills in what exists only while the service runs (the
data directory's lock, stored avatars, the job system). Routes reach it through
``app_state`` / ``request_state`` instead of attributes set here and there on ``app.state``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from headcast.server.config import ServerConfig
from headcast.server.http.rate_limits import AuthFailureThrottle, RateLimiter
from headcast.server.http.work_slots import WorkSlots
from headcast.server.jobs.avatar_store import AvatarStore
from headcast.server.jobs.record import JobFiles
from headcast.server.jobs.store import JobStore
from headcast.server.jobs.worker import JobWorkers
from headcast.server.sessions.registry import LiveSessions
from headcast.server.sessions.webrtc_peer import LivePeer

STATE_ATTRIBUTE = "headcast"  # app.state.headcast


@dataclass
class JobSystem:
    """Queued renders: where jobs are kept, their files, and the threads that render them."""

    store: JobStore
    files: JobFiles
    workers: JobWorkers


@dataclass
class AppState:
    config: ServerConfig
    rate_limiter: RateLimiter
    auth_failures: AuthFailureThrottle
    live_sessions: LiveSessions
    work_slots: WorkSlots
    webrtc_peers: dict[str, LivePeer] = field(default_factory=dict)  # by live session id
    ready: bool = False  # /readyz: started and not stopping
    # While the service runs (set by the lifespan, in this order):
    data_dir_lock: IO[str] | None = None  # None with Redis: replicas share the folder
    avatar_store: AvatarStore | None = None
    jobs: JobSystem | None = None

    @classmethod
    def for_config(cls, config: ServerConfig) -> AppState:
        return cls(
            config=config,
            rate_limiter=RateLimiter(config.rate_limit_per_min),
            auth_failures=AuthFailureThrottle(config.auth_failures_per_min),
            live_sessions=LiveSessions(config),
            work_slots=WorkSlots(config.workers, config.max_queued_jobs),
        )

    @property
    def avatars(self) -> AvatarStore:
        """The stored avatars (from the service's start)."""
        if self.avatar_store is None:
            raise RuntimeError("the service has not started: no avatar store yet")
        return self.avatar_store

    @property
    def job_system(self) -> JobSystem:
        """The job system (from the service's start until it stops)."""
        if self.jobs is None:
            raise RuntimeError("the service has not started: no job system yet")
        return self.jobs


def app_state(app: Starlette) -> AppState:
    """The service's state, as ``create_app`` put it on ``app``."""
    state = getattr(app.state, STATE_ATTRIBUTE)
    assert isinstance(state, AppState)
    return state


def request_state(conn: HTTPConnection) -> AppState:
    """The state of the service a request or WebSocket came to."""
    return app_state(conn.app)
