"""The "omnirt" engine: frames made by a server speaking the OmniRT realtime-avatar protocol
(SoulX-FlashHead behind OmniRT, or another headcast's ``/v1/avatar/realtime``).

Each frame's speech is handed over as it comes; it is gathered into the server's
``chunk_samples`` and sent at once, with up to ``MAX_CHUNKS_IN_FLIGHT`` chunks unanswered, so a
fast server is never left waiting on a round trip. A chunk left partial (the end of the
speech, or a caller waiting for frames) is padded with silence after ``FLUSH_AFTER_S`` once the
server has nothing else to do, and the padding's frames are dropped. Server frame ``j`` shows
the speech from ``j / fps`` on, so each frame handed over is answered by the server frame that
starts where its speech starts: the A/V offset is 0.

Every failure (no server, a dropped connection, a stall, an ``error`` message, frames that do
not decode or do not add up) fails the frames on their way with a ``RemoteEngineError`` naming
the server and what happened.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from headcast.audio.clip import to_pcm16
from headcast.errors import EngineError, HeadcastError, InputError
from headcast.face.avatar import Avatar
from headcast.render.capabilities import EngineCapabilities, EngineInput, EngineKind
from headcast.render.frame_audio import FrameAudio, frame_bounds
from headcast.render.remote.endpoint import RemoteEndpoint
from headcast.render.remote.omnirt_wire import (
    RemoteSessionSpec,
    WireError,
    audio_message,
    control_message,
    create_message,
    decode_frame,
    error_text,
    parse_text,
    session_spec,
    video_jpegs,
)
from headcast.render.remote.reconnect import RECONNECTS
from headcast.render.remote_latency import RemoteLatency

ENGINE_NAME = "omnirt"
AUDIO_RATE_HZ = 16_000  # what FlashHead hears; asked of the server in session.create
DEFAULT_FPS = 25
# How long a frame takes to come back: a chunk of speech gathered (FlashHead's are 1.12 s)
# plus the server's work. Sessions ask frames this far ahead.
FRAME_LATENCY_MS = 1500.0
FLUSH_AFTER_S = 0.05  # a partial chunk waits this long for more speech, then is padded
MAX_CHUNKS_IN_FLIGHT = 8  # bounds the speech and frames held for a slow server
POLL_S = 0.01
CLOSE_TIMEOUT_S = 2.0
MAX_MESSAGE_BYTES = 64 << 20
DECODE_THREADS = 4  # JPEG decoders shared by this process's sessions

_DECODERS = ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="omnirt-decode")

CAPABILITIES = EngineCapabilities(
    kind=EngineKind.REMOTE,
    remote_input=EngineInput.AUDIO,
    audio_rate_hz=AUDIO_RATE_HZ,
    frame_latency_ms=FRAME_LATENCY_MS,
    first_frame_latency_ms=FRAME_LATENCY_MS,
    description="frames from an OmniRT realtime-avatar server (SoulX-FlashHead), "
    "at --engine-url or $HEADCAST_ENGINE_URL",
)


class RemoteEngineError(EngineError):
    """The OmniRT realtime server failed or could not be used (the text names it)."""


@dataclass(frozen=True)
class _ChunkOut:
    first_frame: int  # the server frames that answer it: first_frame … end_frame
    end_frame: int
    sent_at: float


class OmniRTSession:
    """One avatar on the remote server: a WebSocket and its ``session.create``."""

    def __init__(self, endpoint: RemoteEndpoint, avatar: Avatar) -> None:
        self._started = time.monotonic()
        self.server = endpoint.server
        self._side = avatar.size_px
        self._timeout_s = endpoint.timeout_s
        config: dict[str, Any] = {
            "fps": DEFAULT_FPS,
            "sample_rate": AUDIO_RATE_HZ,
            "width": self._side,
            "height": self._side,
            **endpoint.config,
        }
        self._ws = self._connect(endpoint)
        try:
            self.spec = self._create(endpoint.model, avatar, config)
        except BaseException:
            self._ws.close()
            raise
        self._lock = threading.Condition()
        self._pending: list[np.ndarray] = []  # speech not sent yet, int16
        self._pending_samples = 0
        self._sent_samples = 0  # speech and padding sent
        self._submitted = 0
        self._wanted: deque[tuple[int, Future[np.ndarray]]] = deque()  # server frame → future
        self._chunks: deque[_ChunkOut] = deque()
        self._last_submit = time.monotonic()
        self._last_answer = time.monotonic()
        self._error: RemoteEngineError | None = None
        self._closing = False
        self._cancels_unanswered = 0  # until session.cancelled, frames back are of cut speech
        self.chunk_latencies_ms: list[float] = []  # send → frames back, per chunk
        self._first_frame_ms: float | None = None  # connecting → the first frames back
        self._latency_reported = 0  # chunk latencies reported so far
        self._first_frame_reported = False
        self._receiver = threading.Thread(target=self._receive, name="omnirt-frames", daemon=True)
        self._receiver.start()

    # -- caller side ------------------------------------------------------------------------

    def submit(self, request: Any) -> Future[np.ndarray]:
        future: Future[np.ndarray] = Future()
        if not isinstance(request, FrameAudio):
            future.set_exception(TypeError("the omnirt engine is fed FrameAudio"))
            return future
        spec = self.spec
        pcm = to_pcm16(request.samples)
        with self._lock:
            if self._error is not None:
                future.set_exception(self._error)
                return future
            start, end = frame_bounds(self._submitted, spec.sample_rate, spec.fps)
            if len(pcm) != end - start:
                self._fail_locked(
                    f"renders {spec.fps:g} fps; the video asks for another rate "
                    "(render at that fps, or set fps with --engine-config)",
                    InputError,
                )
                future.set_exception(self._error)
                return future
            position = self._sent_samples + self._pending_samples
            self._wanted.append((_frame_at(position, spec), future))
            self._submitted += 1
            self._pending.append(pcm)
            self._pending_samples += len(pcm)
            self._last_submit = time.monotonic()
            while self._error is None and self._pending_samples >= spec.chunk_samples:
                self._send_chunk_locked()
        return future

    def flush(self) -> None:
        """Send the speech gathered so far now, padded to a chunk: no more is coming soon."""
        with self._lock:
            if self._error is None and self._pending_samples:
                self._send_chunk_locked()

    def take_latency(self) -> RemoteLatency | None:
        """The latencies measured since the last call; None when there is nothing new."""
        with self._lock:
            chunks = tuple(self.chunk_latencies_ms[self._latency_reported :])
            self._latency_reported = len(self.chunk_latencies_ms)
            first = None if self._first_frame_reported else self._first_frame_ms
            self._first_frame_reported = self._first_frame_ms is not None
        if first is None and not chunks:
            return None
        return RemoteLatency(ENGINE_NAME, first, chunks)

    def cancel(self) -> None:
        """Drop the frames asked for and not back yet, and the speech the server has queued
        (``session.cancel``): the next frame asked starts the server's stream afresh."""
        with self._lock:
            if self._error is not None or self._closing:
                return
            for _, future in self._wanted:
                future.cancel()
            self._submitted -= len(self._wanted)
            self._wanted.clear()
            self._pending = []
            self._pending_samples = 0
            self._sent_samples = 0
            self._chunks.clear()
            self._cancels_unanswered += 1
            self._lock.notify_all()
            try:
                self._ws.send(control_message("session.cancel"))
            except (ConnectionClosed, OSError):
                self._fail_locked("closed the connection mid-stream")

    def close(self) -> None:
        with self._lock:
            self._closing = True
            for _, future in self._wanted:
                future.cancel()
            self._wanted.clear()
            self._lock.notify_all()
        with contextlib.suppress(ConnectionClosed, OSError):
            self._ws.send(control_message("session.close"))
        self._ws.close()
        if threading.current_thread() is not self._receiver:
            self._receiver.join(CLOSE_TIMEOUT_S)

    # -- connection -------------------------------------------------------------------------

    def _connect(self, endpoint: RemoteEndpoint) -> ClientConnection:
        refusal = RECONNECTS.refusal(endpoint.url)
        if refusal is not None:
            raise self._error_for(refusal)
        try:
            connection = self._open(endpoint)
        except RemoteEngineError as exc:
            if exc.unreachable:
                RECONNECTS.failed(endpoint.url, exc.what)
            raise
        RECONNECTS.succeeded(endpoint.url)
        return connection

    def _open(self, endpoint: RemoteEndpoint) -> ClientConnection:
        headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else None
        try:
            return connect(
                endpoint.url,
                additional_headers=headers,
                open_timeout=endpoint.timeout_s,
                close_timeout=CLOSE_TIMEOUT_S,
                max_size=MAX_MESSAGE_BYTES,
                proxy=None,
                legacy=True,  # the connection itself, closed by close()
            )
        except ConnectionRefusedError:
            raise self._unreachable("refused the connection (is it running?)") from None
        except TimeoutError:
            raise self._unreachable(f"did not answer within {endpoint.timeout_s:g} s") from None
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise self._error_for(f"refused the session with HTTP {status}") from None
        except (InvalidURI, InvalidHandshake) as exc:
            raise self._error_for(f"is not an OmniRT WebSocket server ({exc})") from None
        except OSError as exc:
            raise self._unreachable(f"could not be reached ({exc.strerror or exc})") from None

    def _create(self, model: str, avatar: Avatar, config: dict[str, Any]) -> RemoteSessionSpec:
        deadline = time.monotonic() + self._timeout_s
        try:
            # A server refusing the connection says why, then closes: read that first.
            with contextlib.suppress(ConnectionClosed):
                self._ws.send(create_message(model, avatar.image, config))
            while True:
                message = self._ws.recv(timeout=max(deadline - time.monotonic(), 0.0))
                if not isinstance(message, str):
                    raise WireError("sent binary data before session.created")
                parsed = parse_text(message)
                if parsed.get("type") == "error":
                    raise WireError(f"refused the session: {error_text(parsed)}")
                if parsed.get("type") == "session.created":
                    spec = session_spec(parsed)
                    break
        except TimeoutError:
            raise self._error_for(
                f"did not create the session within {self._timeout_s:g} s"
            ) from None
        except ConnectionClosed:
            raise self._error_for("closed the connection before creating the session") from None
        except WireError as exc:
            raise self._error_for(str(exc)) from None
        if spec.sample_rate != AUDIO_RATE_HZ:
            raise self._error_for(
                f"takes {spec.sample_rate} Hz audio, not the {AUDIO_RATE_HZ} Hz asked for"
            )
        return spec

    def _unreachable(self, what: str) -> RemoteEngineError:
        error = RemoteEngineError(f"remote engine at {self.server} {what}")
        error.unreachable, error.what = True, what
        return error

    def _error_for(self, what: str, kind: type[HeadcastError] = RemoteEngineError) -> HeadcastError:
        return kind(f"remote engine at {self.server} {what}")

    # -- chunks out, frames back ------------------------------------------------------------

    def _send_chunk_locked(self) -> None:
        """Send the first ``chunk_samples`` of pending speech, padded with silence if short."""
        spec = self.spec
        deadline = time.monotonic() + self._timeout_s
        while len(self._chunks) >= MAX_CHUNKS_IN_FLIGHT and self._error is None:
            if not self._lock.wait(max(deadline - time.monotonic(), 0.0)):
                self._fail_locked(f"sent no frames for {self._timeout_s:g} s")
        if self._error is not None:
            return
        speech = np.concatenate(self._pending) if self._pending else np.zeros(0, np.int16)
        chunk, rest = speech[: spec.chunk_samples], speech[spec.chunk_samples :]
        if len(chunk) < spec.chunk_samples:
            chunk = np.concatenate([chunk, np.zeros(spec.chunk_samples - len(chunk), np.int16)])
        first = _frame_at(self._sent_samples, spec, floor=True)
        self._sent_samples += spec.chunk_samples
        now = time.monotonic()
        if not self._chunks:
            self._last_answer = now  # the stall clock starts with the first unanswered chunk
        self._chunks.append(_ChunkOut(first, _frame_at(self._sent_samples, spec, floor=True), now))
        self._pending = [rest] if len(rest) else []
        self._pending_samples = len(rest)
        try:
            self._ws.send(audio_message(chunk))
        except (ConnectionClosed, OSError):
            self._fail_locked("closed the connection mid-stream")

    def _receive(self) -> None:
        while True:
            try:
                message = self._ws.recv(timeout=POLL_S)
            except TimeoutError:
                self._when_quiet()
                continue
            except (ConnectionClosed, OSError):
                self._fail("closed the connection mid-stream")
                return
            try:
                if isinstance(message, str):
                    parsed = parse_text(message)
                    if parsed.get("type") == "error":
                        raise WireError(f"answered with {error_text(parsed)}")
                    if parsed.get("type") == "session.cancelled":
                        self._on_cancelled()
                elif not self._answers_cut_speech():
                    self._on_frames(video_jpegs(message))
            except WireError as exc:
                self._fail(str(exc))
                return
            with self._lock:
                if self._closing or self._error is not None:
                    return

    def _when_quiet(self) -> None:
        now = time.monotonic()
        with self._lock:
            if self._closing or self._error is not None:
                return
            # Pad only once the server has answered every chunk: while it is busy, more speech
            # arrives in time, and a padded chunk costs it a whole chunk's work for few frames.
            if (
                not self._chunks
                and self._pending_samples
                and now - self._last_submit >= FLUSH_AFTER_S
            ):
                self._send_chunk_locked()
            if self._chunks and now - self._last_answer > self._timeout_s:
                self._fail_locked(f"sent no frames for {self._timeout_s:g} s (stalled)")

    def _on_cancelled(self) -> None:
        with self._lock:
            self._cancels_unanswered = max(self._cancels_unanswered - 1, 0)

    def _answers_cut_speech(self) -> bool:
        """Frames answering chunks sent before a cancel the server has not confirmed yet."""
        with self._lock:
            if self._cancels_unanswered:
                self._last_answer = time.monotonic()
            return self._cancels_unanswered > 0

    def _on_frames(self, jpegs: list[bytes]) -> None:
        with self._lock:
            if not self._chunks:
                raise WireError(f"sent {len(jpegs)} frames for no audio")
            chunk = self._chunks.popleft()
            now = time.monotonic()
            self._last_answer = now
            self.chunk_latencies_ms.append((now - chunk.sent_at) * 1000)
            if self._first_frame_ms is None:
                self._first_frame_ms = (now - self._started) * 1000
            expected = chunk.end_frame - chunk.first_frame
            if len(jpegs) != expected:
                raise WireError(f"answered a chunk with {len(jpegs)} frames, not {expected}")
            answered = []
            for offset, jpeg in enumerate(jpegs):
                index = chunk.first_frame + offset
                while self._wanted and self._wanted[0][0] <= index:
                    wanted, future = self._wanted.popleft()
                    if wanted == index:
                        answered.append((future, jpeg))
            self._lock.notify_all()
        to_decode = [(future, jpeg) for future, jpeg in answered if not future.cancelled()]
        # Decoded side by side (OpenCV lets go of the GIL): a chunk's frames are ready a
        # few milliseconds after it arrives rather than one decode per frame later.
        decoded = list(_DECODERS.map(self._decode, [jpeg for _, jpeg in to_decode]))
        for number, ((future, _), frame) in enumerate(zip(to_decode, decoded, strict=True)):
            if isinstance(frame, WireError):
                self._fail(str(frame))
                for rest, _ in to_decode[number:]:
                    with contextlib.suppress(InvalidStateError):
                        rest.set_exception(self._error)
                raise frame
            with contextlib.suppress(InvalidStateError):  # cancelled meanwhile
                future.set_result(frame)

    def _decode(self, jpeg: bytes) -> np.ndarray | WireError:
        try:
            return decode_frame(jpeg, self._side)
        except WireError as exc:
            return exc

    def _fail(self, what: str) -> None:
        with self._lock:
            if not self._closing:
                self._fail_locked(what)

    def _fail_locked(self, what: str, kind: type[HeadcastError] = RemoteEngineError) -> None:
        if self._error is None:
            self._error = self._error_for(what, kind)  # type: ignore[assignment]
        for _, future in self._wanted:
            with contextlib.suppress(InvalidStateError):
                future.set_exception(self._error)
        self._wanted.clear()
        self._lock.notify_all()


def _frame_at(sample: int, spec: RemoteSessionSpec, *, floor: bool = False) -> int:
    """The server frame that starts at ``sample`` of the stream (the last one begun, when
    ``floor``: how many frames the speech up to there makes)."""
    frames = sample * spec.fps / spec.sample_rate
    return math.floor(frames + 1e-9) if floor else round(frames)


class OmniRTEngine:
    """Frames from the OmniRT server at ``endpoint`` (the settings' when None)."""

    name = ENGINE_NAME
    capabilities = CAPABILITIES

    def __init__(self, endpoint: RemoteEndpoint | None = None) -> None:
        self.endpoint = endpoint if endpoint is not None else RemoteEndpoint.from_settings()

    def start(self, avatar: Avatar) -> OmniRTSession:
        return OmniRTSession(self.endpoint, avatar)
