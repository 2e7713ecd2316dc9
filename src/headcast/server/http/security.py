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
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headcast.server.config import ServerConfig
from headcast.server.http.errors import ApiError
from headcast.server.http.rate_limits import AuthFailureThrottle

# Where the admission middleware leaves the caller of an admitted HTTP request.
CALLER_SCOPE_KEY = "headcast.caller"
QUERY_KEY_NAME = "api_key"


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

    A request that reached a keyed route without passing through it (an app assembled
    without ``Admission``) is an error, never an open route.
    """
    caller = request.scope.get(CALLER_SCOPE_KEY)
    if not isinstance(caller, str):
        raise RuntimeError("a keyed route was reached without the admission middleware")
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
