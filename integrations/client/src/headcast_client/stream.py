"""One avatar session over ``/v1/stream`` (jpeg output): push speech, end a turn, interrupt,
and read frames paired with the audio that plays during each."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from PIL import Image
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

STREAM_PATH = "/v1/stream"
# One binary message a frame: magic, index, pts_s, segment (-1 idle), JPEG bytes, PCM bytes.
FRAME_MAGIC = b"HCFR"
FRAME_HEADER = struct.Struct("<4sIdiII")
# The server closes sockets on messages over 16 MiB; its frames are far smaller.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# Speech goes out in messages of at most this much, well under the server's message and
# per-second byte limits even when a TTS hands over a long answer at once.
MAX_AUDIO_MESSAGE_BYTES = 256 * 1024
CLOSE_TIMEOUT_S = 5.0


class AvatarStreamError(Exception):
    """The headcast server could not be reached, refused the session or went away; the text
    names the server and what happened (its error code where it sent one)."""

    def __init__(self, server: str, message: str, code: str | None = None) -> None:
        detail = f"{message} ({code})" if code else message
        super().__init__(f"headcast server {server}: {detail}")
        self.server = server
        self.code = code  # the server's error code, None when it sent none


@dataclass(frozen=True)
class StreamOptions:
    url: str  # the server's base URL, http(s)://HOST:PORT (ws(s):// accepted)
    api_key: str = ""
    portrait: bytes | None = None  # a photo's bytes; or avatar_id
    avatar_id: str | None = None
    size_px: int = 512
    fps: int = 25
    input_sample_rate_hz: int = 16_000  # the rate of the speech pushed
    output_sample_rate_hz: int = 16_000  # the rate of the audio sent back with frames
    jpeg_quality: int = 80
    head_motion: float | None = None  # None: the server's default
    engine: str | None = None
    seed: int = 0
    connect_timeout_s: float = 30.0  # to connect, and again for the session to start


@dataclass(frozen=True)
class AvatarFrame:
    index: int
    pts_s: float
    segment: int  # -1 for an idle frame
    jpeg: bytes
    pcm: np.ndarray  # int16 mono at output_sample_rate_hz, the audio that plays during it

    @property
    def speaking(self) -> bool:
        return self.segment >= 0

    def rgb(self) -> np.ndarray:
        """The picture, height × width × 3 uint8 RGB."""
        with Image.open(io.BytesIO(self.jpeg)) as image:
            return np.asarray(image.convert("RGB"))


@dataclass(frozen=True)
class SegmentFinished:
    segment: int
    pts_s: float


def stream_url(url: str) -> str:
    """``ws(s)://HOST:PORT/.../v1/stream`` from a server's base URL."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"not an http(s):// or ws(s):// URL: {url!r}")
    path = parts.path.rstrip("/")
    if not path.endswith(STREAM_PATH):
        path += STREAM_PATH
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


def parse_frame(message: bytes) -> AvatarFrame:
    magic, index, pts_s, segment, jpeg_len, pcm_len = FRAME_HEADER.unpack_from(message)
    if magic != FRAME_MAGIC:
        raise ValueError(f"not a frame message (magic {magic!r})")
    start = FRAME_HEADER.size
    jpeg = message[start : start + jpeg_len]
    pcm = np.frombuffer(message, dtype="<i2", count=pcm_len // 2, offset=start + jpeg_len)
    return AvatarFrame(index, pts_s, segment, bytes(jpeg), pcm.astype(np.int16))


def pcm16(pcm: np.ndarray) -> bytes:
    """int16 LE bytes of mono speech given as int16 or as float in [-1, 1]."""
    samples = np.asarray(pcm).reshape(-1)
    if np.issubdtype(samples.dtype, np.floating):
        samples = np.round(np.clip(samples, -1.0, 1.0) * 32767.0)
    return samples.astype("<i2").tobytes()


class AvatarStream:
    """An open ``/v1/stream`` session. Use as ``async with AvatarStream(options) as stream``;
    ``async for item in stream`` yields ``AvatarFrame``s (idle ones between turns, paced in
    real time by the server) and ``SegmentFinished`` markers, and raises AvatarStreamError if
    the server goes away or sends an error. The iteration ends when ``close()`` is called
    (from any task). Sending and reading may run in different tasks."""

    def __init__(self, options: StreamOptions) -> None:
        self.options = options
        self.session_id = ""
        self.fps = float(options.fps)
        self.width = self.height = options.size_px
        self.output_sample_rate_hz = options.output_sample_rate_hz
        self.server = options.url
        self._ws: ClientConnection | None = None
        self._closing = False
        self._reading = False  # an iteration is waiting for the next message

    @property
    def samples_per_frame(self) -> int:
        """The PCM samples each frame carries."""
        return round(self.output_sample_rate_hz / self.fps)

    @property
    def close_code(self) -> int | None:
        """The WebSocket close code once the connection is closed (1000: a clean close)."""
        return None if self._ws is None else self._ws.close_code

    async def open(self) -> AvatarStream:
        options = self.options
        start = json.dumps(self._start_message())
        url = stream_url(options.url)
        self.server = url
        headers = {"Authorization": f"Bearer {options.api_key}"} if options.api_key else None
        try:
            self._ws = await connect(
                url,
                additional_headers=headers,
                max_size=MAX_MESSAGE_BYTES,
                open_timeout=options.connect_timeout_s,
                close_timeout=CLOSE_TIMEOUT_S,
            )
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise AvatarStreamError(url, f"cannot connect: {exc or type(exc).__name__}") from exc
        try:
            # A refused socket (a wrong key) is sent its error and closed before it may start:
            # the error is still read below.
            with contextlib.suppress(ConnectionClosed):
                await self._ws.send(start)
            reply = await asyncio.wait_for(self._ws.recv(), options.connect_timeout_s)
        except TimeoutError as exc:
            await self._abort()
            raise AvatarStreamError(
                url, f"no answer to start within {options.connect_timeout_s:g} s"
            ) from exc
        except ConnectionClosed as exc:
            await self._abort()
            raise AvatarStreamError(url, f"closed the connection at start ({exc})") from exc
        except BaseException:  # cancelled while the session starts: leave no socket open
            await self._abort()
            raise
        event = _event(reply)
        if event.get("type") != "started":
            await self._abort()
            if event.get("type") == "error":
                raise AvatarStreamError(url, str(event.get("message")), str(event.get("code")))
            raise AvatarStreamError(url, f"unexpected answer to start: {event.get('type')!r}")
        self.session_id = str(event.get("session_id", ""))
        self.fps = float(event.get("fps", self.fps))
        self.width = int(event.get("width", self.width))
        self.height = int(event.get("height", self.height))
        audio_out = event.get("audio_out") or {}
        self.output_sample_rate_hz = int(audio_out.get("sample_rate", self.output_sample_rate_hz))
        return self

    def _start_message(self) -> dict[str, Any]:
        o = self.options
        message: dict[str, Any] = {
            "type": "start",
            "output": "jpeg",
            "size": o.size_px,
            "fps": o.fps,
            "sample_rate": o.input_sample_rate_hz,
            "output_sample_rate": o.output_sample_rate_hz,
            "jpeg_quality": o.jpeg_quality,
            "seed": o.seed,
        }
        if o.avatar_id is not None:
            message["avatar_id"] = o.avatar_id
        elif o.portrait is not None:
            message["image_b64"] = base64.b64encode(o.portrait).decode("ascii")
        else:
            raise ValueError("StreamOptions needs a portrait or an avatar_id")
        if o.head_motion is not None:
            message["head_motion"] = o.head_motion
        if o.engine is not None:
            message["engine"] = o.engine
        return message

    async def push_audio(self, pcm: np.ndarray) -> None:
        """Speech, int16 mono at ``input_sample_rate_hz`` (float in [-1, 1] is converted);
        joins the open turn."""
        data = pcm16(pcm)
        for start in range(0, len(data), MAX_AUDIO_MESSAGE_BYTES):
            await self._send(data[start : start + MAX_AUDIO_MESSAGE_BYTES])

    async def end_segment(self) -> None:
        """The turn's speech is complete: its last frames are made without waiting for more."""
        await self._send(json.dumps({"type": "end_segment"}))

    async def interrupt(self) -> None:
        """Drop the queued speech: the next frame is idle and silent."""
        await self._send(json.dumps({"type": "interrupt"}))

    async def close(self) -> None:
        """Idempotent. Frees the session on the server and ends any iteration cleanly."""
        if self._closing:
            return
        self._closing = True
        ws = self._ws
        if ws is None:
            return
        with contextlib.suppress(ConnectionClosed, OSError):
            await ws.send(json.dumps({"type": "close"}))
        # Frames nobody reads fill the receive queue and hold back the server's close frame:
        # read them away unless an iteration is reading already.
        drain = None if self._reading else asyncio.create_task(_drain(ws))
        try:
            with contextlib.suppress(ConnectionClosed, OSError, TimeoutError):
                await asyncio.wait_for(ws.close(), CLOSE_TIMEOUT_S + 1)
        finally:
            if drain is not None:
                drain.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drain

    async def _abort(self) -> None:
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(ConnectionClosed, OSError, TimeoutError):
                await asyncio.wait_for(self._ws.close(), CLOSE_TIMEOUT_S + 1)

    async def _send(self, message: str | bytes) -> None:
        if self._ws is None:
            raise AvatarStreamError(self.server, "the stream is not open")
        if self._closing:
            raise AvatarStreamError(self.server, "the stream is closed")
        try:
            await self._ws.send(message)
        except ConnectionClosed as exc:
            raise AvatarStreamError(self.server, f"the connection is gone ({exc})") from exc

    async def __aenter__(self) -> AvatarStream:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[AvatarFrame | SegmentFinished]:
        return self._items()

    async def _items(self) -> AsyncIterator[AvatarFrame | SegmentFinished]:
        ws = self._ws
        if ws is None:
            raise AvatarStreamError(self.server, "the stream is not open")
        while not self._closing:
            self._reading = True
            try:
                message = await ws.recv()
            except ConnectionClosed as exc:
                if self._closing:
                    return
                raise AvatarStreamError(
                    self.server, f"the connection closed mid-stream ({_close_reason(exc)})"
                ) from exc
            finally:
                self._reading = False
            if isinstance(message, bytes):
                try:
                    yield parse_frame(message)
                except (struct.error, ValueError) as exc:
                    raise AvatarStreamError(self.server, f"a malformed frame: {exc}") from exc
                continue
            event = _event(message)
            kind = event.get("type")
            if kind == "segment_finished":
                yield SegmentFinished(int(event["segment"]), float(event["pts_s"]))
            elif kind == "closed":
                self._closing = True
                return
            elif kind == "error":
                raise AvatarStreamError(
                    self.server, str(event.get("message")), str(event.get("code"))
                )
            # position and pong messages carry nothing a frame does not


async def _drain(ws: ClientConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        while True:
            await ws.recv()


def _event(message: str | bytes) -> dict[str, Any]:
    try:
        event = json.loads(message)
    except (ValueError, UnicodeDecodeError):
        return {"type": "binary" if isinstance(message, bytes) else "unreadable"}
    return event if isinstance(event, dict) else {"type": "unreadable"}


def _close_reason(exc: ConnectionClosed) -> str:
    frame = exc.rcvd or exc.sent
    if frame is None:
        return "no close frame: the server went away"
    return f"code {frame.code}" + (f", {frame.reason}" if frame.reason else "")
