"""API keys and per-key rate limits, for HTTP routes and WebSockets alike.

A key arrives as ``Authorization: Bearer <key>``, ``X-API-Key: <key>`` or, for clients that
cannot set headers on a WebSocket (browsers, OpenTalking's clients), ``?api_key=<key>``.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque

from fastapi import Request, WebSocket
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headcast.server.config import ServerConfig
from headcast.server.errors import ApiError

RATE_WINDOW_S = 60.0


class RateLimiter:
    """Sliding one-minute window of request times per caller."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, caller: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(caller, deque())
            while hits and now - hits[0] > RATE_WINDOW_S:
                hits.popleft()
            if len(hits) >= self.per_minute:
                retry = max(1, int(RATE_WINDOW_S - (now - hits[0])) + 1)
                raise ApiError(
                    429, "rate_limited", f"more than {self.per_minute} requests per minute",
                    headers={"Retry-After": str(retry)},
                )  # fmt: skip
            hits.append(now)


def presented_key(conn: Request | WebSocket) -> str | None:
    auth = conn.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return conn.headers.get("x-api-key") or conn.query_params.get("api_key")


def authenticate(conn: Request | WebSocket) -> str:
    """The caller's identity (its key, or its address when anonymous), or ApiError 401."""
    config: ServerConfig = conn.app.state.config
    key = presented_key(conn)
    if config.api_keys:
        if key and any(hmac.compare_digest(key, k) for k in config.api_keys):
            return "key:" + key
        if not config.allow_anonymous or key:
            raise ApiError(401, "unauthorized", "a valid API key is required")
    client = conn.client.host if conn.client else "unknown"
    return "addr:" + client


async def require_api_key(request: Request) -> str:
    """FastAPI dependency: authenticate and count the request against the caller's limit."""
    caller = authenticate(request)
    request.app.state.rate_limiter.check(caller)
    return caller


class NoSniff:
    """ASGI middleware: ``X-Content-Type-Options: nosniff`` on every HTTP response, so a
    browser never runs an upload or an error body as something other than its declared type."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Content-Type-Options"] = "nosniff"
            await send(message)

        await self.app(scope, receive, send_with_header)
