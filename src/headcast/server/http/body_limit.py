"""Limits on every request body, declared or not (chunked uploads included): size and pace.

A request whose ``Content-Length`` is over the limit is answered 413 before any of it is read.
A body without a length is counted as it streams in; the first chunk past the limit stops the
read with a 413, so a client cannot fill the disk through the multipart parser's spool files.
A body whose next piece takes longer than ``read_timeout_s`` to arrive is dropped with a 408:
the parser's exception closes its spool files, so a stalled upload leaves nothing behind.
An answer sent before the body was read to its end closes the connection.
"""

from __future__ import annotations

import asyncio
import json

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headcast.server.http.errors import error_body


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` inside the app; the error handlers turn it into JSON 413.

    An ``HTTPException`` so that FastAPI's body parsing passes it through unchanged.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, too_large_message(max_bytes))


class BodyReadTimeout(HTTPException):
    """Raised from ``receive`` when the client stalls mid-body; JSON 408 like ``BodyTooLarge``."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(408, f"no part of the request body arrived for {timeout_s:g} s")


def too_large_message(max_bytes: int) -> str:
    return f"the request body is larger than the {_megabytes(max_bytes)} limit"


def _megabytes(n_bytes: int) -> str:
    return f"{n_bytes / (1024 * 1024):.3g} MB"


class RequestBodyLimit:
    """ASGI middleware: at most ``max_bytes`` of request body per HTTP request, each piece
    arriving within ``read_timeout_s`` of the one before."""

    def __init__(self, app: ASGIApp, max_bytes: int, read_timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout_s = read_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _send_too_large(send, self.max_bytes)
            return
        received = 0
        body_done = not has_body(scope)
        started = False

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # past the body only a disconnect can come: no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.read_timeout_s)
            except TimeoutError:
                raise BodyReadTimeout(self.read_timeout_s) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
                body_done = not message.get("more_body", False)
            else:
                body_done = True
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not body_done:  # the rest of the body will not be read on this connection
                    MutableHeaders(scope=message)["Connection"] = "close"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLarge:
            # Only reached when no error handler answered (the body was read outside a route).
            if started:
                raise
            await _send_too_large(send, self.max_bytes)
        except BodyReadTimeout as exc:
            if started:
                raise
            await _send_error(send, 408, "body_timeout", str(exc.detail))


def has_body(scope: Scope) -> bool:
    """Whether the request declares a body (a length above 0, or chunked)."""
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_too_large(send: Send, max_bytes: int) -> None:
    await _send_error(send, 413, "too_large", too_large_message(max_bytes))


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps(error_body(code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The unread body makes the connection unusable for another request.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
