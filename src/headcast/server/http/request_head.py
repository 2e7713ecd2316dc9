"""uvicorn's HTTP protocol with a deadline and a size limit on each request head.

uvicorn waits for a request head as long as a client cares to send it, a byte at a time, and
its keep-alive timer is reset by every byte; a few hundred such connections hold the server's
sockets and memory without ever reaching the app. Here a head (request line and headers)
must be complete within ``head_timeout_s`` of the connection opening, or of the first byte
after the previous answer, and within ``MAX_REQUEST_HEAD_BYTES``; otherwise the connection
is closed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from headcast.server.http.errors import error_body

MAX_REQUEST_HEAD_BYTES = 64 * 1024
_HEAD_TOO_LARGE_BODY = json.dumps(
    error_body("too_large", f"the request head is over {MAX_REQUEST_HEAD_BYTES // 1024} KB")
).encode()
_HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n" % len(_HEAD_TOO_LARGE_BODY)
) + _HEAD_TOO_LARGE_BODY


class BoundedHeadProtocol(HttpToolsProtocol):
    """Use ``bounded_head_protocol(timeout_s)`` to get the class with its deadline set."""

    head_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._head_tail = b""
        self._in_head = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._begin_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_head()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._in_head and (self.cycle is None or self.cycle.response_complete):
            self._begin_head()  # bytes while idle start the next head (blank lines too)
        if self._in_head:
            # The head ends at its first blank line; what follows is body, not head.
            end = (self._head_tail + data).find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else end + 4 - len(self._head_tail)
            self._head_tail = data[-3:]
            if self._head_bytes > MAX_REQUEST_HEAD_BYTES:
                self._end_head()
                if not self.transport.is_closing():
                    self.transport.write(_HEAD_TOO_LARGE)
                    self.transport.close()
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begin_head()

    def on_headers_complete(self) -> None:
        self._end_head()
        super().on_headers_complete()

    def _begin_head(self) -> None:
        if not self._in_head:
            self._in_head = True
            self._head_bytes = 0
            self._head_tail = b""
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.head_timeout_s, self._head_too_slow)

    def _end_head(self) -> None:
        self._in_head = False
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self._in_head and not self.transport.is_closing():
            self.transport.close()


def bounded_head_protocol(head_timeout_s: float) -> type[BoundedHeadProtocol]:
    """The protocol class for ``uvicorn.Config(http=...)``, which takes a class."""
    return type("BoundedHeadProtocol", (BoundedHeadProtocol,), {"head_timeout_s": head_timeout_s})
