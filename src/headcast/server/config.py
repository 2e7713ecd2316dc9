"""Service configuration: command-line flags over environment variables over defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from headcast.errors import InputError
from headcast.limits import DEFAULT_FPS, DEFAULT_SIZE_PX, MAX_SIZE_PX, MIN_SIZE_PX, fps_error

ENV_PREFIX = "HEADCAST_"
ICE_URL_SCHEMES = ("stun", "stuns", "turn", "turns")


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``headcast serve`` can be told; each field is ``$HEADCAST_<NAME>`` too."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("headcast-data")
    # Render jobs running at once; live sessions are counted separately.
    workers: int = 1
    # Comma-separated in the environment. Empty means every request is refused unless
    # allow_anonymous is set: the service is never open by accident.
    api_keys: tuple[str, ...] = ()
    allow_anonymous: bool = False
    cors_origins: tuple[str, ...] = ()
    # Requests per minute per API key (or per client address when anonymous); 0 = unlimited.
    rate_limit_per_min: int = 120
    max_upload_bytes: int = 50 * 1024 * 1024
    # A video to enrol (POST /v1/avatars): a minute of phone video at 1080p is 100-150 MB.
    max_video_upload_bytes: int = 200 * 1024 * 1024
    # Longest video enrolled, in seconds; enrolling takes up to about twice its length.
    max_enrol_s: float = 600.0
    max_audio_s: float = 300.0
    max_image_pixels: int = 40_000_000
    max_text_chars: int = 5000
    max_queued_jobs: int = 32
    # Queued jobs one key may have waiting; 0 = all of max_queued_jobs with one key configured,
    # half of them (at least one) with several, so that no key can fill the queue for the rest.
    max_queued_jobs_per_key: int = 0
    max_live_sessions: int = 8
    # Processes the live sessions share; 0 = one per session, up to max_live_sessions.
    session_processes: int = 0
    # /v1/generate reads and writes files only inside this directory (OmniRT-style paths).
    shared_dir: Path | None = None
    # redis://host:port/db — several replicas share one job queue; unset = SQLite only.
    redis_url: str | None = None
    # With Redis: a replica silent this long is presumed dead and its running jobs requeued.
    job_lease_s: float = 30.0
    # STUN/TURN URLs for WebRTC (stun:host:port, turn:host:port?transport=udp, ...), given to
    # the server's peer connections and to browsers; none = direct connections only (LAN, VPN).
    ice_servers: tuple[str, ...] = ()
    turn_username: str | None = None
    turn_credential: str | None = None
    default_size_px: int = DEFAULT_SIZE_PX
    default_fps: float = DEFAULT_FPS
    # -- hostile clients: HTTP ------------------------------------------------------------
    # Failed authentications per minute per client address before 429 + Retry-After; 0 = off.
    auth_failures_per_min: int = 20
    # Longest wait for the next piece of a request body; a stalled upload is dropped after it.
    body_read_timeout_s: float = 30.0
    # A connection must have sent its whole request head within this.
    header_timeout_s: float = 10.0
    # Proxies whose X-Forwarded-For names the client (addresses, networks or "*"): rate limits
    # and failed-key throttling count the client's address, not the proxy's.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)
    # Swagger UI at /docs (shipped with the service, under a strict CSP); /openapi.json always.
    api_docs: bool = True
    # -- hostile clients: live sessions and WebSockets -------------------------------------
    # Speech queued ahead of playback per live session, in seconds of audio.
    max_live_backlog_s: float = 300.0
    # Live sessions one key may hold; 0 = all of max_live_sessions with one key configured,
    # half of them (at least one) with several.
    max_live_sessions_per_key: int = 0
    # Per WebSocket connection; a client over either gets an error and a 1008 close.
    ws_messages_per_s: float = 200.0
    ws_bytes_per_s: float = 8 * 1024 * 1024

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> ServerConfig:
        """Defaults, then ``$HEADCAST_*`` variables, then explicit ``overrides`` (None = unset)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw.strip() != "":
                values[f.name] = _parse(f.name, f.type, raw.strip())
        values.update({k: v for k, v in overrides.items() if v is not None})
        config = replace(cls(), **values)
        config.check()
        return config

    def check(self) -> None:
        if not 0 < self.port < 65536:
            raise InputError(f"port must be 1-65535, got {self.port}")
        if self.job_lease_s <= 0:
            raise InputError(f"job_lease_s must be positive, got {self.job_lease_s}")
        if error := fps_error(self.default_fps):
            raise InputError(f"default_{error}")
        size = self.default_size_px
        if not MIN_SIZE_PX <= size <= MAX_SIZE_PX or size % 2:
            raise InputError(
                f"default_size_px must be an even number from {MIN_SIZE_PX} to {MAX_SIZE_PX}, "
                f"got {size}"
            )
        for url in self.ice_servers:
            if url.split(":", 1)[0] not in ICE_URL_SCHEMES or ":" not in url:
                raise InputError(
                    f"ice_servers: '{url}' is not a stun:, stuns:, turn: or turns: URL"
                )
        if self.session_processes < 0:
            raise InputError(
                f"session_processes must be 0 (one per session) or more, got {self.session_processes}"
            )
        for name in ("body_read_timeout_s", "header_timeout_s", "max_live_backlog_s",
                     "ws_messages_per_s", "ws_bytes_per_s", "max_enrol_s",
                     "max_video_upload_bytes"):  # fmt: skip
            if not getattr(self, name) > 0:
                raise InputError(f"{name} must be positive, got {getattr(self, name)}")
        for name in (
            "auth_failures_per_min",
            "max_live_sessions_per_key",
            "max_queued_jobs_per_key",
        ):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must be 0 or more, got {getattr(self, name)}")
        if self.workers < 1:
            raise InputError(f"workers must be at least 1, got {self.workers}")
        if not self.api_keys and not self.allow_anonymous:
            raise InputError(
                "no API keys: set $HEADCAST_API_KEYS (comma-separated) or, to serve without "
                "keys, $HEADCAST_ALLOW_ANONYMOUS=1 / --allow-anonymous"
            )

    @property
    def live_sessions_per_key(self) -> int:
        """The live sessions one key may hold at once."""
        return self._per_key_share(self.max_live_sessions_per_key, self.max_live_sessions)

    @property
    def queued_jobs_per_key(self) -> int:
        """The jobs one key may have waiting at once."""
        return self._per_key_share(self.max_queued_jobs_per_key, self.max_queued_jobs)

    def _per_key_share(self, per_key: int, total: int) -> int:
        if per_key > 0:
            return min(per_key, total)
        if len(self.api_keys) <= 1:
            return total
        return max(1, total // 2)

    @property
    def max_request_bytes(self) -> int:
        """Whole request bodies: room for two uploads sent as base64 JSON, or one video, plus
        form fields."""
        return max(3 * self.max_upload_bytes, self.max_video_upload_bytes) + 1024 * 1024

    @property
    def database_path(self) -> Path:
        return self.data_dir / "headcast.sqlite3"


def _parse(name: str, kind: object, raw: str) -> object:
    kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    try:
        if kind_name.startswith("tuple"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if kind_name == "bool":
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if kind_name == "int":
            return int(raw)
        if kind_name == "float":
            return float(raw)
        if "Path" in kind_name:
            return Path(raw)
        return raw
    except ValueError:
        raise InputError(
            f"${ENV_PREFIX}{name.upper()}: cannot read '{raw}' as {kind_name}"
        ) from None
