"""The "omnirt-http" engine: frames made by an OmniRT server's ``POST /v1/generate``
(``task: audio2video``), for servers that offer only fragment generation, as OpenTalking's
FlashHead HTTP backend uses them. For files only: a fragment comes back whole, seconds later.

Each frame's speech is gathered into fragments of ``FRAGMENT_S``; a few fragments are in flight
at once over one keep-alive client, so a fast server is not left waiting on round trips. The
requests run as tasks of the session's own event loop: ``close`` cancels them, which drops
their connections at once, so a caller that gives up waits for nothing and the server hears
that nobody wants its answer. Each request's round trip is reported as a chunk latency (the
first one also as the first frame's) to ``remote_latency``'s observers; a server that cannot
be reached is backed off as the realtime engine backs off (``RECONNECTS``). The
portrait and each fragment's speech go inline as ``data:`` URIs; the answer's video (a file the
server wrote where this host reads it, or a URL) is decoded and its frames complete the
futures in order. The last fragment is padded with silence to the full length (a server may
render fixed lengths only) and the padding's frames are dropped. A/V offset 0: frame ``i`` of a
fragment is drawn from that fragment's speech at ``i / fps``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import numpy as np

from headcast.errors import EngineError, InputError
from headcast.face.avatar import Avatar
from headcast.render.capabilities import EngineCapabilities, EngineInput, EngineKind
from headcast.render.engine import FrameRequest
from headcast.render.frame_audio import FrameAudio
from headcast.render.remote.endpoint import RemoteEndpoint
from headcast.render.remote.generate_wire import (
    UndecodableVideo,
    data_uri,
    png_bytes,
    refusal_reason,
    video_frames,
    video_location,
    wav_bytes,
)
from headcast.render.remote.reconnect import RECONNECTS
from headcast.render.remote_latency import RemoteLatency, report_remote_latency

ENGINE_NAME = "omnirt-http"
GENERATE_PATH = "/v1/generate"
TASK = "audio2video"
AUDIO_RATE_HZ = 16_000  # FlashHead's wav2vec input rate
FRAGMENT_S = 1.0  # OpenTalking's FlashHead fragment: frame_num = fps frames
FRAGMENTS_IN_FLIGHT = 3
# Fragments queued behind those in flight before submit waits: bounds memory when the
# server is slower than the frames are asked for.
FRAGMENTS_QUEUED = 3
# A partial fragment goes out once no frame has been handed over for this long (the end of
# the speech, when the caller does not call flush).
FLUSH_IDLE_S = 0.25
CONNECT_TIMEOUT_S = 10.0


class HttpEngineError(EngineError):
    """The generation server failed: one line naming it and what happened."""


@dataclass(eq=False)  # each one is itself: kept in a set while in flight
class _Fragment:
    """Frames' speech gathered for one request, and the futures its frames complete."""

    samples: list[np.ndarray] = field(default_factory=list)
    futures: list[Future[np.ndarray]] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return sum(len(s) for s in self.samples)


class OmniRtHttpEngine:
    """Renders on the OmniRT server the ``HEADCAST_ENGINE_*`` settings name, or ``endpoint``."""

    name = ENGINE_NAME
    capabilities = EngineCapabilities(
        kind=EngineKind.REMOTE,
        remote_input=EngineInput.AUDIO,
        audio_rate_hz=AUDIO_RATE_HZ,
        live=False,
        frame_latency_ms=FRAGMENT_S * 1000 * (FRAGMENTS_IN_FLIGHT + 1),
        description="an OmniRT server's POST /v1/generate (audio2video), a fragment at a time",
    )

    def __init__(self, endpoint: RemoteEndpoint | None = None) -> None:
        self.endpoint = endpoint

    def start(self, avatar: Avatar) -> HttpGenerateSession:
        endpoint = self.endpoint or RemoteEndpoint.from_settings()
        return HttpGenerateSession(endpoint, avatar)


def generate_url(endpoint: RemoteEndpoint) -> str:
    """The endpoint's ``/v1/generate`` URL: its own when it names one, else under its root."""
    parts = urlsplit(endpoint.url)
    if parts.scheme not in ("http", "https"):
        raise InputError(
            f"engine '{ENGINE_NAME}' needs an http:// or https:// URL, got '{endpoint.server}'"
        )
    return urlunsplit((parts.scheme, parts.netloc, _named(parts.path), parts.query, ""))


def _named(url_or_path: str) -> str:
    """``url_or_path`` ending in ``/v1/generate``."""
    trimmed = url_or_path.rstrip("/")
    return trimmed if trimmed.endswith(GENERATE_PATH) else trimmed + GENERATE_PATH


class HttpGenerateSession:
    """One avatar on the server: frames' speech in via ``submit``, their frames back in order."""

    def __init__(self, endpoint: RemoteEndpoint, avatar: Avatar) -> None:
        self._url = generate_url(endpoint)
        self._server = _named(endpoint.server)
        refusal = RECONNECTS.refusal(self._url)
        if refusal is not None:  # down lately: this render fails at once, saying why
            raise self._unreachable(refusal)
        self._model = endpoint.model
        self._config: Mapping[str, Any] = endpoint.config
        self._timeout_s = endpoint.timeout_s
        self._connect_timeout_s = min(CONNECT_TIMEOUT_S, endpoint.timeout_s)
        self._size = avatar.size_px
        self._image_uri = data_uri("image/png", png_bytes(avatar.image))
        headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
        self._client = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(endpoint.timeout_s, connect=self._connect_timeout_s),
            limits=httpx.Limits(
                max_connections=FRAGMENTS_IN_FLIGHT, max_keepalive_connections=FRAGMENTS_IN_FLIGHT
            ),
        )
        self._loop = asyncio.new_event_loop()
        self._slots = asyncio.Semaphore(FRAGMENTS_IN_FLIGHT)
        threading.Thread(target=self._run_loop, name="omnirt-http", daemon=True).start()
        self._room = threading.BoundedSemaphore(FRAGMENTS_IN_FLIGHT + FRAGMENTS_QUEUED)
        self._lock = threading.Lock()
        self._pending = _Fragment()
        self._sent: set[_Fragment] = set()  # handed to the loop, not answered yet
        self._fragment_frames: int | None = None  # set from the first frame's length
        self._in_flight = 0  # fragments sent and not yet answered
        self._fps: float | None = None
        self._failure: HttpEngineError | None = None
        self._idle_timer: threading.Timer | None = None
        self._closed = False
        self._first_reported = False
        self.chunk_latencies_ms: list[float] = []  # each request sent → its frames decoded

    def submit(self, request: FrameRequest) -> Future[np.ndarray]:
        if not isinstance(request, FrameAudio):
            raise TypeError(
                f"engine '{ENGINE_NAME}' is fed FrameAudio, not {type(request).__name__}"
            )
        future: Future[np.ndarray] = Future()
        with self._lock:
            if self._failure is not None:
                future.set_exception(self._failure)
                return future
            if self._closed:
                raise RuntimeError("submit after close")
            if self._fragment_frames is None:
                self._fragment_frames = self._frames_per_fragment(len(request.samples))
            self._pending.samples.append(np.asarray(request.samples, np.float32))
            self._pending.futures.append(future)
            full = len(self._pending.futures) >= self._fragment_frames
            fragment = self._take_pending() if full else None
            self._arm_idle_flush()
        if fragment is not None:
            self._send(fragment)
        return future

    def flush(self) -> None:
        """Send the frames gathered so far now, padded to a full fragment: the speech ended."""
        with self._lock:
            fragment = self._take_pending()
        if fragment is not None:
            self._send(fragment)

    def _flush_if_idle(self) -> None:
        # Frames still on their way may be what the caller waits for before handing over
        # more: the fragment is completed by later frames rather than sent short.
        with self._lock:
            if self._in_flight:
                return
        self.flush()

    def close(self) -> None:
        """Cancel every frame not back yet and the requests under way, without waiting."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            dropped = self._take_pending()
            unanswered = [*self._sent, *([dropped] if dropped is not None else [])]
            self._sent.clear()
        for fragment in unanswered:
            for future in fragment.futures:
                future.cancel()
        # Cancelling the loop's requests drops their connections; the loop then ends itself.
        asyncio.run_coroutine_threadsafe(self._shut_down(), self._loop)

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _shut_down(self) -> None:
        here = asyncio.current_task()
        requests = [t for t in asyncio.all_tasks() if t is not here]
        for task in requests:
            task.cancel()
        await asyncio.gather(*requests, return_exceptions=True)
        await self._client.aclose()
        self._loop.stop()

    def _frames_per_fragment(self, frame_samples: int) -> int:
        """The fragment's length in frames: the server's ``frame_num`` where the configuration
        gives it, else ``FRAGMENT_S`` of frames ``frame_samples`` long."""
        given = self._config.get("frame_num")
        if isinstance(given, int) and not isinstance(given, bool) and given > 0:
            return given
        return max(1, round(FRAGMENT_S * AUDIO_RATE_HZ / max(frame_samples, 1)))

    def _take_pending(self) -> _Fragment | None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if not self._pending.futures:
            return None
        fragment, self._pending = self._pending, _Fragment()
        self._in_flight += 1
        if self._fps is None:
            # The frame rate is not handed to engines: it is the frames' length in samples.
            self._fps = round(len(fragment.futures) * AUDIO_RATE_HZ / fragment.n_samples, 3)
        return fragment

    def _arm_idle_flush(self) -> None:
        """(Re)start the wait after which gathered frames go out short (lock held)."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._pending.futures and not self._closed:
            self._idle_timer = threading.Timer(FLUSH_IDLE_S, self._flush_if_idle)
            self._idle_timer.daemon = True
            self._idle_timer.start()

    def _fragment_done(self, fragment: _Fragment) -> None:
        self._room.release()
        with self._lock:
            self._sent.discard(fragment)
            self._in_flight -= 1
            if not self._in_flight:
                self._arm_idle_flush()

    def _send(self, fragment: _Fragment) -> None:
        self._room.acquire()
        with self._lock:
            job: concurrent.futures.Future[None] | None = None
            if not self._closed:
                self._sent.add(fragment)
                job = asyncio.run_coroutine_threadsafe(self._render(fragment), self._loop)
        if job is None:  # closed meanwhile
            self._fragment_done(fragment)
            for future in fragment.futures:
                future.cancel()
            return
        job.add_done_callback(lambda _: self._fragment_done(fragment))

    async def _render(self, fragment: _Fragment) -> None:
        if all(f.cancelled() for f in fragment.futures):
            return
        try:
            async with self._slots:
                if self._failure is not None:
                    raise self._failure
                frames = await self._generate(fragment)
        except asyncio.CancelledError:
            for future in fragment.futures:
                future.cancel()
            raise
        except Exception as exc:  # whatever it is, the frames waiting for it must hear of it
            if isinstance(exc, HttpEngineError):
                with self._lock:
                    self._failure = self._failure or exc
            for future in fragment.futures:
                if future.set_running_or_notify_cancel():
                    future.set_exception(exc)
            return
        for future, frame in zip(fragment.futures, frames, strict=False):
            if future.set_running_or_notify_cancel():
                future.set_result(frame)

    async def _generate(self, fragment: _Fragment) -> list[np.ndarray]:
        assert self._fragment_frames is not None
        speech = np.concatenate(fragment.samples)
        wanted = len(fragment.futures)
        padded_frames = max(self._fragment_frames, wanted)
        full = round(padded_frames * AUDIO_RATE_HZ / (self._fps or 1.0))
        if len(speech) < full:
            speech = np.concatenate([speech, np.zeros(full - len(speech), np.float32)])
        body = {
            "task": TASK,
            "model": self._model,
            "inputs": {
                "image": self._image_uri,
                "audio": data_uri("audio/wav", wav_bytes(speech, AUDIO_RATE_HZ)),
            },
            "config": {**self._config, "fps": self._fps, "size": self._size},
        }
        sent_at = time.monotonic()
        answer = await self._post(body)
        video = await self._fetch_video(answer)
        frames = await asyncio.to_thread(self._decode, video, wanted)
        if len(frames) < wanted:
            raise self._error(
                f"sent {len(frames)} frames for {wanted / (self._fps or 1.0):.2f} s of speech "
                f"({wanted} frames)"
            )
        self._report_latency((time.monotonic() - sent_at) * 1000)
        return frames[:wanted]

    def _report_latency(self, ms: float) -> None:
        with self._lock:
            self.chunk_latencies_ms.append(ms)
            first = None if self._first_reported else ms
            self._first_reported = True
        report_remote_latency(RemoteLatency(ENGINE_NAME, first, (ms,)))

    async def _post(self, body: dict[str, Any]) -> Any:
        try:
            response = await self._client.post(self._url, json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            what = (
                f"cannot be reached (no connection within {self._connect_timeout_s:g} s)"
                if isinstance(exc, httpx.ConnectTimeout)
                else f"cannot be reached ({_reason(exc)})"
            )
            with self._lock:  # the session's fragments in flight count as one try
                first_failure = self._failure is None
            if first_failure:
                RECONNECTS.failed(self._url, what)
            raise self._unreachable(what) from None
        except httpx.TimeoutException:
            raise self._error(f"did not answer within {self._timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise self._error(f"failed: {_reason(exc)}") from None
        RECONNECTS.succeeded(self._url)
        if response.status_code != 200:
            raise self._error(f"answered HTTP {response.status_code}: {refusal_reason(response)}")
        try:
            return response.json()
        except ValueError:
            raise self._error("answered with something that is not JSON") from None

    async def _fetch_video(self, answer: Any) -> bytes:
        where = video_location(answer)
        if where is None:
            raise self._error("answered without a video among its outputs")
        if where.startswith(("http://", "https://")):
            try:
                response = await self._client.get(where)
            except httpx.TimeoutException:
                raise self._error(f"did not send its video within {self._timeout_s:g} s") from None
            except httpx.HTTPError as exc:
                raise self._error(f"failed to send its video: {_reason(exc)}") from None
            if response.status_code != 200:
                raise self._error(f"answered HTTP {response.status_code} for its video {where}")
            return response.content
        path = Path(where.removeprefix("file://"))
        try:
            return await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise self._error(
                f"wrote its video to {where}, which this host cannot read ({exc.strerror}): "
                "mount the server's output folder at the same path"
            ) from None

    def _decode(self, video: bytes, wanted: int) -> list[np.ndarray]:
        try:
            return video_frames(video, wanted, self._size)
        except UndecodableVideo as exc:
            raise self._error(f"sent a video that cannot be decoded ({exc})") from None

    def _error(self, what: str) -> HttpEngineError:
        return HttpEngineError(f"engine '{ENGINE_NAME}': the server {self._server} {what}")

    def _unreachable(self, what: str) -> HttpEngineError:
        error = self._error(what)
        error.unreachable, error.what = True, what
        return error


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
