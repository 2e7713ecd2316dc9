"""API keys, per-key rate limits and failed-key throttling, for HTTP routes and WebSockets alike.

A key arrives as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; on a WebSocket, where
a browser cannot set headers, also as ``?api_key=<key>``. On HTTP routes a key in the query
string is refused: URLs end up in access logs, proxies and browser histories.

Keys are compared as bytes (UTF-8 for configured keys, the raw header or percent-decoded query
bytes for presented ones), so no header value can make the comparison fail with an error.
HTTP routes are admitted by ``headcast.server.http.admission`` before their body is read; WebSocket
routes call ``authenticate`` in their handshake.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Request, Security, WebSocket
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headcast.server.config import ServerConfig
from headcast.server.http.errors import ApiError

RATE_WINDOW_S = 60.0
# Where the admission middleware leaves the caller of an admitted HTTP request.
CALLER_SCOPE_KEY = "headcast.caller"
QUERY_KEY_NAME = "api_key"


class SlidingWindow:
    """Event times per name over the last ``RATE_WINDOW_S``; at most ``limit`` counted.

    Names whose events have all expired are forgotten (once a window), so a stream of new
    client addresses cannot grow the table without bound.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._swept_at = time.monotonic()

    def retry_after_s(self, name: str, now: float, count_it: bool = False) -> int | None:
        """Seconds until ``name`` is under its limit again, or None when it is under it now
        (and then, with ``count_it``, this event is counted)."""
        with self._lock:
            hits = self._hits.get(name)
            if hits is not None:
                while hits and now - hits[0] > RATE_WINDOW_S:
                    hits.popleft()
                if len(hits) >= self.limit:
                    return max(1, int(RATE_WINDOW_S - (now - hits[0])) + 1)
            if count_it:
                self._add(name, now)
            return None

    def add(self, name: str, now: float) -> None:
        with self._lock:
            self._add(name, now)

    def _add(self, name: str, now: float) -> None:
        self._hits.setdefault(name, deque()).append(now)
        if now - self._swept_at > RATE_WINDOW_S:
            self._swept_at = now
            for stale in [n for n, h in self._hits.items() if not h or now - h[-1] > RATE_WINDOW_S]:
                del self._hits[stale]


class RateLimiter:
    """Sliding one-minute window of request times per caller."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._window = SlidingWindow(per_minute)

    def check(self, caller: str) -> None:
        if self.per_minute <= 0:
            return
        retry = self._window.retry_after_s(caller, time.monotonic(), count_it=True)
        if retry is not None:
            raise ApiError(
                429, "rate_limited", f"more than {self.per_minute} requests per minute",
                headers={"Retry-After": str(retry)},
            )  # fmt: skip


class AuthFailureThrottle:
    """Wrong keys per client address in the last minute; past the limit the address is refused
    before any key is compared, so keys cannot be guessed at the speed of the network."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._window = SlidingWindow(per_minute)

    def check(self, address: str) -> None:
        if self.per_minute <= 0:
            return
        retry = self._window.retry_after_s(address, time.monotonic())
        if retry is not None:
            raise ApiError(
                429,
                "too_many_auth_failures",
                f"more than {self.per_minute} wrong API keys per minute from this address",
                headers={"Retry-After": str(retry)},
            )

    def record_failure(self, address: str) -> None:
        if self.per_minute > 0:
            self._window.add(address, time.monotonic())


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


def presented_key(scope: Scope) -> bytes | None:
    """The key a request or WebSocket handshake carries, as the bytes the client sent."""
    auth = _header(scope, b"authorization")
    if auth is not None and auth[:7].lower() == b"bearer ":
        return auth[7:].strip()
    api_key = _header(scope, b"x-api-key")
    if api_key:
        return api_key
    if scope["type"] == "websocket":
        return query_key(scope)
    return None


def query_key(scope: Scope) -> bytes | None:
    """``?api_key=`` percent-decoded to bytes (latin-1 maps each byte to one character)."""
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True, encoding="latin-1"):
        if name == QUERY_KEY_NAME:
            return value.encode("latin-1")
    return None


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def identify(scope: Scope, config: ServerConfig, failures: AuthFailureThrottle) -> str:
    """The caller's identity (its key, or its address when anonymous), or ApiError 401 / 429."""
    address = client_address(scope)
    key = presented_key(scope)
    if config.api_keys:
        if key:
            failures.check(address)
            matched = None
            for candidate in config.api_keys:  # every key compared: no timing hint of which
                if hmac.compare_digest(key, candidate.encode()):
                    matched = candidate
            if matched is not None:
                return "key:" + matched
            failures.record_failure(address)
            raise ApiError(401, "unauthorized", "a valid API key is required")
        if not config.allow_anonymous:
            raise ApiError(401, "unauthorized", _missing_key_message(scope))
    return "addr:" + address


def _missing_key_message(scope: Scope) -> str:
    if scope["type"] == "http" and query_key(scope) is not None:
        return (
            "an API key is required in the X-API-Key or Authorization: Bearer header; "
            "?api_key= is accepted on WebSockets only"
        )
    return "a valid API key is required"


def authenticate(conn: Request | WebSocket) -> str:
    """The caller's identity, or ApiError 401 (429 for an address guessing keys)."""
    state = conn.app.state
    return identify(conn.scope, state.config, state.auth_failures)


# Declared so that the OpenAPI schema lists both ways of sending a key on every keyed route
# (and /docs offers to send one); the values are read from the raw headers, as bytes.
_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False)
_BEARER = HTTPBearer(auto_error=False)


async def require_api_key(
    request: Request,
    _header_key: Annotated[str | None, Security(_KEY_HEADER)] = None,
    _bearer_key: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
) -> str:
    """FastAPI dependency: the caller admitted by the admission middleware.

    A request that reached a keyed route without passing through it (an app mounted
    differently) is authenticated and counted here instead, so a route is never open.
    """
    caller = request.scope.get(CALLER_SCOPE_KEY)
    if caller is None:
        caller = authenticate(request)
        request.app.state.rate_limiter.check(caller)
        request.scope[CALLER_SCOPE_KEY] = caller
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
