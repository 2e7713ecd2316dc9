"""A limit on the size of every request body, declared or not (chunked uploads included).

A request whose ``Content-Length`` is over the limit is answered 413 before any of it is read.
A body without a length is counted as it streams in; the first chunk past the limit stops the
read with a 413, so a client cannot fill the disk through the multipart parser's spool files.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headcast.server.errors import error_body


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` inside the app; the error handlers turn it into JSON 413.

    An ``HTTPException`` so that FastAPI's body parsing passes it through unchanged.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, too_large_message(max_bytes))


def too_large_message(max_bytes: int) -> str:
    return f"the request body is larger than the {_megabytes(max_bytes)} limit"


def _megabytes(n_bytes: int) -> str:
    return f"{n_bytes / (1024 * 1024):.3g} MB"


class RequestBodyLimit:
    """ASGI middleware: at most ``max_bytes`` of request body per HTTP request."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _send_too_large(send, self.max_bytes)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLarge:
            # Only reached when no error handler answered (the body was read outside a route).
            if started:
                raise
            await _send_too_large(send, self.max_bytes)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_too_large(send: Send, max_bytes: int) -> None:
    body = json.dumps(error_body("too_large", too_large_message(max_bytes))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The unread body makes the connection unusable for another request.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
