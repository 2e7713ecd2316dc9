"""``/v1/stream``: headcast's own live WebSocket protocol (docs/streaming.md).

JSON control messages and binary int16 LE PCM in; out, paced in real time, either one binary
message per frame (JPEG + the PCM that plays over it) or a fragmented MP4 stream (H.264 + AAC)
for Media Source Extensions, plus segment, position and error messages. A socket may instead
attach to a live session another transport opened (WebRTC) and feed only its audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from headcast.errors import HeadcastError
from headcast.limits import (
    DEFAULT_SAMPLE_RATE_HZ,
    MAX_FPS,
    MAX_SAMPLE_RATE_HZ,
    MAX_SIZE_PX,
    MIN_FPS,
    MIN_SAMPLE_RATE_HZ,
    MIN_SIZE_PX,
)
from headcast.live.backlog import BacklogFull
from headcast.live.pool import SessionFailed
from headcast.server.config import ServerConfig
from headcast.server.http.errors import ApiError
from headcast.server.live.ws_protocol import (
    ProtocolError,
    accept,
    as_protocol_error,
    check_size,
    connection_rate,
    engine_field,
    head_motion_field,
    input_sample_rate,
    max_message_bytes,
    number,
    open_live_session,
    parse_json,
    receive,
    send_error,
    send_json,
)
from headcast.server.sessions.registry import LiveSessions, RegisteredSession
from headcast.server.state import request_state
from headcast.session import SegmentFinished, VideoFrame
from headcast.video.encode import encode_jpeg
from headcast.video.fmp4 import AUDIO_RATE_HZ as FMP4_AUDIO_RATE_HZ
from headcast.video.fmp4 import FragmentedMp4Writer

router = APIRouter(tags=["live"])
log = logging.getLogger(__name__)

# One binary message a frame in "jpeg" output: this header, the JPEG, then the PCM.
FRAME_MAGIC = b"HCFR"
FRAME_HEADER = struct.Struct("<4sIdiII")  # magic, index, pts_s, segment (-1 idle), jpeg, pcm bytes
OUTPUTS = ("jpeg", "fmp4")
JPEG_OUTPUT_RATES_HZ = (16_000, 24_000, 48_000)
POSITION_INTERVAL_S = 0.2
DEFAULT_JPEG_QUALITY = 80
INTERNAL_ERROR_CLOSE = 1011


@dataclass(frozen=True)
class StreamOptions:
    """What a ``start`` message asks for (defaults from the server configuration)."""

    output: str
    size_px: int
    fps: float
    sample_rate: int  # of the PCM the client sends
    output_rate: int  # of the PCM / AAC sent back
    jpeg_quality: int
    head_motion: float  # 0 (still) to 1
    seed: int
    engine: str | None  # None: the portrait's own


def stream_options(message: dict[str, Any], config: ServerConfig) -> StreamOptions:
    output = message.get("output", "jpeg")
    if output not in OUTPUTS:
        raise ProtocolError("bad_request", f"output must be one of {', '.join(OUTPUTS)}")
    fps = number(message, "fps", config.default_fps, MIN_FPS, MAX_FPS, integer=False)
    rate = input_sample_rate(message)
    out_rate = FMP4_AUDIO_RATE_HZ
    if output == "jpeg":
        out_rate = number(
            message,
            "output_sample_rate",
            DEFAULT_SAMPLE_RATE_HZ,
            MIN_SAMPLE_RATE_HZ,
            MAX_SAMPLE_RATE_HZ,
            integer=True,
        )
        if out_rate not in JPEG_OUTPUT_RATES_HZ:
            raise ProtocolError(
                "bad_request", f"output_sample_rate must be one of {JPEG_OUTPUT_RATES_HZ}"
            )
    if (out_rate / fps) % 1:
        raise ProtocolError(
            "bad_request", f"fps must divide {out_rate} (whole audio samples a frame)"
        )
    size = number(message, "size", config.default_size_px, MIN_SIZE_PX, MAX_SIZE_PX, integer=True)
    if size % 2:
        raise ProtocolError("bad_request", f"size must be even, got {size}")
    return StreamOptions(
        output=output,
        size_px=size,
        fps=fps,
        sample_rate=rate,
        output_rate=out_rate,
        jpeg_quality=number(message, "jpeg_quality", DEFAULT_JPEG_QUALITY, 10, 100, integer=True),
        head_motion=head_motion_field(message),
        seed=number(message, "seed", 0, -(2**31), 2**31 - 1, integer=True),
        engine=engine_field(message, size_px=size, fps=fps),
    )


class Outbox:
    """Sends from the frame task and the control loop, one whole message at a time."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self._lock = asyncio.Lock()

    async def json(self, payload: dict[str, Any]) -> None:
        async with self._lock:
            await send_json(self.websocket, payload)

    async def error(self, code: str, message: str) -> None:
        async with self._lock:
            await send_error(self.websocket, code, message)

    async def binary(self, data: bytes) -> None:
        async with self._lock:
            await self.websocket.send_bytes(data)


class FrameSender:
    """Streams one session's frames out, with segment-finished and playback-position events."""

    def __init__(self, live: RegisteredSession, options: StreamOptions, outbox: Outbox) -> None:
        self.live = live
        self.options = options
        self.outbox = outbox
        side = live.avatar.size_px
        self.mp4 = (
            FragmentedMp4Writer(side, side, options.fps, options.output_rate)
            if options.output == "fmp4"
            else None
        )
        self._segment_samples: defaultdict[int, int] = defaultdict(int)
        self._last_position_s = -POSITION_INTERVAL_S
        self._last_segment: int | None = None

    async def run(self) -> None:
        try:
            if self.mp4 is not None:
                await self.outbox.binary(self.mp4.init_segment)
            async for item in self.live.session.frames():
                if isinstance(item, SegmentFinished):
                    await self.outbox.json(
                        {"type": "segment_finished", "segment": item.segment, "pts_s": item.pts_s}
                    )
                    continue
                await self.outbox.binary(await asyncio.to_thread(self._encode, item))
                await self._position(item)
        except (WebSocketDisconnect, asyncio.CancelledError):
            raise
        except (SessionFailed, HeadcastError) as exc:
            # The renderer failed (a remote engine's server went away): the session ends,
            # the server carries on.
            log.warning("live stream %s failed: %s", self.live.id, exc)
            await self.outbox.error("engine_failed", f"the stream's engine failed: {exc}")
            await self.outbox.websocket.close(INTERNAL_ERROR_CLOSE)
        except Exception:
            log.exception("live stream %s failed", self.live.id)
            await self.outbox.error("internal", "the stream failed")
            await self.outbox.websocket.close(INTERNAL_ERROR_CLOSE)
        finally:
            if self.mp4 is not None:
                with contextlib.suppress(HeadcastError):
                    self.mp4.close()

    def _encode(self, frame: VideoFrame) -> bytes:
        if self.mp4 is not None:
            return self.mp4.write(frame.image, frame.audio)
        jpeg = encode_jpeg(frame.image, self.options.jpeg_quality)
        pcm = frame.audio.astype("<i2").tobytes()
        segment = -1 if frame.segment is None else frame.segment
        header = FRAME_HEADER.pack(
            FRAME_MAGIC, frame.index, frame.pts_s, segment, len(jpeg), len(pcm)
        )
        return header + jpeg + pcm

    async def _position(self, frame: VideoFrame) -> None:
        """Where playback is: how much of the current segment's audio has gone out.

        When a segment ends (finished or interrupted) its last frame's position is sent too,
        so a client knows exactly how much of it was played.
        """
        if frame.segment is not None:
            self._segment_samples[frame.segment] += len(frame.audio)
        changed = frame.segment != self._last_segment
        if changed and self._last_segment is not None and frame.index > 0:
            await self._send_position(frame.index - 1, self._last_segment)
        if changed or frame.pts_s - self._last_position_s >= POSITION_INTERVAL_S - 1e-9:
            self._last_position_s, self._last_segment = frame.pts_s, frame.segment
            await self._send_position(frame.index, frame.segment)

    async def _send_position(self, index: int, segment: int | None) -> None:
        played = self._segment_samples[segment] if segment is not None else 0
        await self.outbox.json(
            {
                "type": "position",
                "frame": index,
                "pts_s": round(index / self.options.fps, 6),
                "speaking": segment is not None,
                "segment": segment,
                "segment_audio_s": round(played / self.options.output_rate, 6),
            }
        )


@dataclass
class _Feed:
    """This socket's hold on a live session."""

    live: RegisteredSession
    sample_rate: int
    owned: bool  # opened here (closed with the socket) or attached to one opened elsewhere
    sender: asyncio.Task[None] | None = None


async def _start(
    websocket: WebSocket, message: dict[str, Any], caller: str, outbox: Outbox
) -> _Feed:
    config: ServerConfig = request_state(websocket).config
    sessions: LiveSessions = request_state(websocket).live_sessions
    rate = input_sample_rate(message)
    audio_in = {"format": "pcm_s16le", "sample_rate": rate, "channels": 1}
    session_id = message.get("session_id")
    if session_id is not None:
        try:
            live = sessions.get(str(session_id), caller)
        except ApiError as exc:
            raise as_protocol_error(exc) from None
        await outbox.json(
            {
                "type": "started",
                "session_id": live.id,
                "attached": True,
                "output": "none",
                "fps": live.session.fps,
                "width": live.avatar.size_px,
                "height": live.avatar.size_px,
                "audio_in": audio_in,
            }
        )
        return _Feed(live, rate, owned=False)
    options = stream_options(message, config)
    live = await open_live_session(
        websocket,
        message,
        caller,
        size_px=options.size_px,
        fps=options.fps,
        output_rate=options.output_rate,
        realtime=True,
        head_motion=options.head_motion,
        seed=options.seed,
        engine=options.engine,
    )
    feed = _Feed(live, rate, owned=True)
    try:
        sender = FrameSender(live, options, outbox)
        started: dict[str, Any] = {
            "type": "started",
            "session_id": live.id,
            "attached": False,
            "output": options.output,
            "fps": options.fps,
            "width": live.avatar.size_px,
            "height": live.avatar.size_px,
            "audio_in": audio_in,
            "audio_out": {"format": "pcm_s16le" if sender.mp4 is None else "aac",
                          "sample_rate": options.output_rate, "channels": 1},
        }  # fmt: skip
        if sender.mp4 is not None:
            started["mime"] = sender.mp4.mime
        await outbox.json(started)
        feed.sender = asyncio.create_task(sender.run())
    except BaseException:
        sessions.close(live.id)
        raise
    return feed


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket) -> None:
    caller = await accept(websocket)
    if caller is None:
        return
    sessions: LiveSessions = request_state(websocket).live_sessions
    limit = max_message_bytes(request_state(websocket).config)
    rate = connection_rate(websocket)
    outbox = Outbox(websocket)
    feed: _Feed | None = None
    try:
        while (incoming := await receive(websocket, rate)) is not None:
            try:
                check_size(incoming, limit)
                if incoming.data is not None:
                    if feed is None:
                        raise ProtocolError("not_started", "send start before any audio")
                    if len(incoming.data) % 2:
                        raise ProtocolError(
                            "bad_audio", "PCM must be int16: an even number of bytes"
                        )
                    pcm = np.frombuffer(incoming.data, dtype="<i2")
                    await _push(feed, pcm)
                    continue
                message = parse_json(incoming.text or "")
                kind = message.get("type")
                if kind == "start":
                    if feed is not None:
                        raise ProtocolError("already_started", "this socket already has a session")
                    feed = await _start(websocket, message, caller, outbox)
                elif kind == "ping":
                    await outbox.json({"type": "pong"})
                elif kind in ("end_segment", "interrupt", "close"):
                    if feed is None:
                        raise ProtocolError("not_started", f"send start before {kind}")
                    if kind == "end_segment":
                        feed.live.session.end_segment()
                    elif kind == "interrupt":
                        feed.live.session.interrupt()
                    else:
                        break
                else:
                    raise ProtocolError("unsupported_message", f"unsupported message: {kind!r}")
            except ProtocolError as exc:
                await outbox.error(exc.code, exc.message)
        else:
            return  # the client went away
        await _stop(feed, sessions)
        feed = None
        await outbox.json({"type": "closed"})
        await websocket.close()
    except WebSocketDisconnect:
        pass
    finally:
        await _stop(feed, sessions)


async def _push(feed: _Feed, pcm: np.ndarray) -> None:
    try:
        # Only queued here: the session's process analyses it.
        feed.live.session.push_audio(pcm, feed.sample_rate)
    except BacklogFull as exc:
        raise ProtocolError("backlog_full", str(exc)) from None
    except RuntimeError:
        # Only an attached feed can outlive its session (its owner closed it).
        raise ProtocolError("no_such_session", "the session has ended") from None


async def _stop(feed: _Feed | None, sessions: LiveSessions) -> None:
    """Stop sending and, for a session opened here, free it."""
    if feed is None:
        return
    if feed.sender is not None:
        feed.sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await feed.sender
    if feed.owned:
        sessions.close(feed.live.id)
