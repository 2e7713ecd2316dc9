"""``/v1/avatar/realtime``: the OmniRT realtime-avatar protocol that OpenTalking's
``FlashHeadWSClient`` speaks, so OpenTalking can use headcast in place of a FlashHead server.

Request/response per audio chunk: ``session.create`` (portrait + config) → ``session.created``;
then each binary ``AUDI`` + int16 LE PCM chunk of exactly ``chunk_samples`` is answered with a
``metrics`` message and a binary ``VIDX`` payload holding that chunk's frames as JPEGs, made as
fast as possible (not paced). See docs/streaming.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from headcast.limits import MAX_FPS, MAX_SIZE_PX, MIN_FPS, MIN_SIZE_PX
from headcast.live.backlog import BacklogFull
from headcast.live.protocol import LiveSession
from headcast.render.remote.omnirt_wire import (
    MAGIC_AUDIO,
    MAGIC_VIDEO,
    RemoteSessionSpec,
    created_message,
    video_message,
)
from headcast.server.live.ws_protocol import (
    ProtocolError,
    accept,
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

router = APIRouter(tags=["live"])

DEFAULT_MODEL = "headcast-warp"
# 0.48 s chunks (12 frames at 25 fps): less than half the wait of FlashHead's 1.12 s
# windows. Each chunk's last ~120 ms see less lip-sync look-ahead; at 0.48 s that keeps 89% of
# the lip closures of an unchunked stream, at 0.4 s 81% (docs/streaming.md).
DEFAULT_CHUNK_S = 0.48
MIN_CHUNK_FRAMES = 1
MAX_CHUNK_S = 4.0
# The session's audio out is not sent on this protocol: any rate with whole samples a frame.
NOMINAL_OUTPUT_RATE_HZ = 16_000
JPEG_QUALITY = 85


@dataclass(frozen=True)
class ChunkSpec:
    """What a session was created with, as told back in ``session.created``."""

    sample_rate: int
    chunk_samples: int
    fps: int
    width: int
    height: int

    @property
    def nominal_frames(self) -> int:
        return round(self.chunk_samples * self.fps / self.sample_rate)


def chunk_spec(config: dict[str, Any], default_size_px: int) -> ChunkSpec:
    """The session's audio and video terms from ``session.create``'s config; unknown keys ignored."""
    fps = number(config, "fps", 25, MIN_FPS, MAX_FPS, integer=True)
    rate = input_sample_rate(config)
    width = number(config, "width", default_size_px, MIN_SIZE_PX, MAX_SIZE_PX, integer=True)
    height = number(config, "height", default_size_px, MIN_SIZE_PX, MAX_SIZE_PX, integer=True)
    if width % 2 or height % 2:
        raise ProtocolError("bad_config", f"width and height must be even, got {width}x{height}")
    default_chunk = round(DEFAULT_CHUNK_S * fps) * rate // fps
    chunk = number(
        config,
        "chunk_samples",
        default_chunk,
        -(-rate * MIN_CHUNK_FRAMES // fps),
        MAX_CHUNK_S * rate,
        integer=True,
    )
    return ChunkSpec(rate, chunk, fps, width, height)


class RealtimeAvatar:
    """One OmniRT session: a batch-mode ``Session`` fed chunk by chunk."""

    def __init__(self, live: RegisteredSession, spec: ChunkSpec, model: str) -> None:
        self.live = live
        self.spec = spec
        self.model = model
        self.chunks = 0
        self._samples_in = 0
        self._frames_out = 0
        self._frames: AsyncIterator[VideoFrame | SegmentFinished] = live.session.frames()
        self._side = live.avatar.size_px

    @property
    def session(self) -> LiveSession:
        return self.live.session

    def created_message(self) -> dict[str, Any]:
        spec = self.spec
        terms = RemoteSessionSpec(
            self.live.id, spec.sample_rate, spec.chunk_samples, spec.fps, spec.width, spec.height
        )
        message = created_message(
            terms,
            wire_magic=MAGIC_VIDEO.decode("ascii"),
            frame_count=spec.nominal_frames,
            motion_frames_num=0,
            slice_len=spec.nominal_frames,
        )
        return {**message, "model": self.model}

    async def render_chunk(self, pcm: np.ndarray) -> tuple[bytes, dict[str, Any]]:
        """This chunk's frames: its duration × fps, the fraction carried to the next chunk."""
        started = time.perf_counter()
        due = (self._samples_in + len(pcm)) * self.spec.fps // self.spec.sample_rate
        self._analyse(pcm, due)
        self._samples_in += len(pcm)
        images = []
        while self._frames_out < due:
            item = await anext(self._frames)
            if isinstance(item, VideoFrame):
                images.append(item.image)
                self._frames_out += 1
        rendered = time.perf_counter()
        jpegs = await asyncio.to_thread(self._encode, images)
        self.chunks += 1
        payload = video_message(jpegs)
        metrics = {
            "type": "metrics",
            "session_id": self.live.id,
            "chunk_index": self.chunks,
            "frames": len(jpegs),
            "infer_ms": round((rendered - started) * 1000, 3),
            "encode_ms": round((time.perf_counter() - rendered) * 1000, 3),
        }
        return payload, metrics

    def cancel(self) -> None:
        """Drop the speech queued so far; the next chunk starts the stream afresh."""
        self.session.interrupt()
        # Frames are counted from the speech that follows: a new segment starts at its frame 0.
        self._samples_in = 0
        self._frames_out = 0

    def _analyse(self, pcm: np.ndarray, due: int) -> None:
        """Lip-sync for the chunk (queued for the session's process)."""
        try:
            self.session.push_audio(pcm, self.spec.sample_rate)
        except BacklogFull as exc:
            raise ProtocolError("backlog_full", str(exc)) from None
        # No answer may wait for the next chunk: the last frames use the look-ahead there is.
        self.session.finalize_frames(due)

    def _encode(self, images: list[np.ndarray]) -> list[bytes]:
        return [encode_jpeg(self._crop(image), JPEG_QUALITY) for image in images]

    def _crop(self, image: np.ndarray) -> np.ndarray:
        """The requested frame size, cut from the middle of the square render."""
        top = (self._side - self.spec.height) // 2
        left = (self._side - self.spec.width) // 2
        return image[top : top + self.spec.height, left : left + self.spec.width]

    async def close(self, sessions: LiveSessions) -> None:
        sessions.close(self.live.id)
        if isinstance(self._frames, AsyncGenerator):  # what sessions' frames() are
            await self._frames.aclose()


async def _create(websocket: WebSocket, message: dict[str, Any], caller: str) -> RealtimeAvatar:
    config = request_state(websocket).config
    inputs = message.get("inputs") or {}
    options = message.get("config") or {}
    if not isinstance(inputs, dict) or not isinstance(options, dict):
        raise ProtocolError("bad_request", "inputs and config must be JSON objects")
    spec = chunk_spec(options, config.default_size_px)
    engine = engine_field(options, size_px=max(spec.width, spec.height), fps=spec.fps)
    live = await open_live_session(
        websocket,
        inputs,
        caller,
        size_px=max(spec.width, spec.height),
        fps=spec.fps,
        output_rate=spec.fps * round(NOMINAL_OUTPUT_RATE_HZ / spec.fps),
        realtime=False,
        head_motion=head_motion_field(options),
        seed=int(number(options, "seed", 0, -(2**31), 2**31 - 1, integer=True)),
        engine=engine,
    )
    return RealtimeAvatar(live, spec, str(message.get("model") or DEFAULT_MODEL))


@router.websocket("/v1/avatar/realtime")
async def realtime_avatar(websocket: WebSocket) -> None:
    caller = await accept(websocket)
    if caller is None:
        return
    sessions: LiveSessions = request_state(websocket).live_sessions
    limit = max_message_bytes(request_state(websocket).config)
    rate = connection_rate(websocket)
    avatar: RealtimeAvatar | None = None
    try:
        while (incoming := await receive(websocket, rate)) is not None:
            try:
                check_size(incoming, limit)
                if incoming.text is not None:
                    message = parse_json(incoming.text)
                    kind = message.get("type")
                    if kind == "session.create":
                        if avatar is not None:
                            await avatar.close(sessions)
                            avatar = None
                        avatar = await _create(websocket, message, caller)
                        await send_json(websocket, avatar.created_message())
                    elif kind == "session.cancel":
                        if avatar is not None:
                            avatar.cancel()
                        await send_json(
                            websocket,
                            {"type": "session.cancelled", "session_id": avatar and avatar.live.id},
                        )
                    elif kind == "session.close":
                        closed = avatar and avatar.live.id
                        if avatar is not None:
                            await avatar.close(sessions)
                            avatar = None
                        await send_json(websocket, {"type": "session.closed", "session_id": closed})
                    elif kind == "ping":
                        await send_json(websocket, {"type": "pong"})
                    else:
                        raise ProtocolError("unsupported_message", f"unsupported message: {kind!r}")
                else:
                    data = incoming.data or b""
                    if data[:4] != MAGIC_AUDIO:
                        raise ProtocolError(
                            "bad_audio_magic", "binary audio must start with the AUDI magic"
                        )
                    if avatar is None:
                        raise ProtocolError(
                            "session_required", "send session.create before any audio"
                        )
                    expected = avatar.spec.chunk_samples * 2
                    if len(data) - 4 != expected:
                        raise ProtocolError(
                            "bad_audio_chunk",
                            f"expected {expected} bytes of pcm_s16le audio "
                            f"({avatar.spec.chunk_samples} samples), got {len(data) - 4}",
                        )
                    pcm = np.frombuffer(data, dtype="<i2", offset=4)
                    payload, metrics = await avatar.render_chunk(pcm)
                    await send_json(websocket, metrics)
                    await websocket.send_bytes(payload)
            except ProtocolError as exc:
                await send_error(websocket, exc.code, exc.message)
    except WebSocketDisconnect:
        pass  # the client went away mid-answer
    finally:
        if avatar is not None:
            await avatar.close(sessions)
