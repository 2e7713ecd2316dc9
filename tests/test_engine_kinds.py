"""Engines of every kind through the Session: audio-driven engines hear exactly each frame's
speech and look-ahead, remote engines are asked their latency ahead, and what an engine
cannot do is refused up front."""

from __future__ import annotations

import asyncio
import heapq
import threading
import time
import wave
import zlib
from concurrent.futures import Future
from typing import ClassVar

import numpy as np
import pytest

from headcast.errors import InputError
from headcast.face import prepare_avatar
from headcast.motion.face_motion import FaceMotion
from headcast.render import (
    EngineCapabilities,
    EngineInput,
    EngineKind,
    FrameAudio,
    check_engine,
    engine_capabilities,
    get_engine,
    list_engines,
    register_engine,
    unregister_engine,
)
from headcast.render.frame_audio import FrameAudioWindows
from headcast.session import SegmentFinished, Session, VideoFrame
from tests.conftest import SAMPLES, clip_wav

FPS = 25.0
RATE = 16000
SAMPLES_PER_FRAME = 640
LOOKAHEAD_MS = 210.0  # not a whole number of frames: 3360 samples
LOOKAHEAD = 3360
REMOTE_LATENCY_MS = 200.0  # 5 frames at 25 fps


def _checksum(samples: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(samples, np.float32).tobytes())


def _checksum_frame(side: int, audio: FrameAudio) -> np.ndarray:
    """A frame whose first pixels spell the checksums of the speech it was drawn from."""
    image = np.zeros((side, side, 3), np.uint8)
    sums = np.array([_checksum(audio.samples), _checksum(audio.lookahead)], "<u4")
    image[0, :8, 0] = np.frombuffer(sums.tobytes(), np.uint8)
    return image


def _read_checksums(image: np.ndarray) -> tuple[int, int]:
    sums = np.frombuffer(image[0, :8, 0].tobytes(), "<u4")
    return int(sums[0]), int(sums[1])


class _HeardSession:
    def __init__(self, side: int, heard: list) -> None:
        self.side = side
        self.heard = heard
        self.closed = False
        self.probe = lambda: None  # what the test wants noted beside each frame drawn
        self.noted: list = []

    def render(self, audio: FrameAudio) -> np.ndarray:
        self.heard.append(audio)
        self.noted.append(self.probe())
        return _checksum_frame(self.side, audio)

    def close(self) -> None:
        self.closed = True


class AudioChecksumEngine:
    """Audio-driven: each frame encodes the checksum of the speech it was handed."""

    name = "test-audio-checksum"
    capabilities = EngineCapabilities(
        kind=EngineKind.AUDIO, audio_rate_hz=RATE, audio_lookahead_ms=LOOKAHEAD_MS
    )
    sessions: ClassVar[list[_HeardSession]] = []

    def start(self, avatar):
        session = _HeardSession(avatar.image.shape[0], [])
        self.sessions.append(session)
        return session


class BlankMotionEngine:
    """Motion-driven and instant: for what does not depend on the picture."""

    name = "test-blank-motion"
    capabilities = EngineCapabilities(kind=EngineKind.MOTION)

    def start(self, avatar):
        side = avatar.image.shape[0]

        class _Blank:
            def render(self, motion: FaceMotion) -> np.ndarray:
                return np.zeros((side, side, 3), np.uint8)

            def close(self) -> None:
                pass

        return _Blank()


class _RemoteSession:
    """Frames drawn by a worker thread and handed back about ``latency_s`` after they were
    asked: every third one 60 ms sooner, so frames asked together come back out of order."""

    def __init__(self, side: int, latency_s: float) -> None:
        self.side = side
        self.latency_s = latency_s
        self.asked: list[tuple[float, FrameAudio]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.came_back: list[int] = []  # the order frames were handed back in, by asking order
        self._due: list[tuple[float, int, FrameAudio, Future[np.ndarray]]] = []  # a heap
        self._closed = False
        self._changed = threading.Condition()
        self._worker = threading.Thread(target=self._work, daemon=True)
        self._worker.start()

    def submit(self, request: FrameAudio) -> Future[np.ndarray]:
        future: Future[np.ndarray] = Future()
        with self._changed:
            n = len(self.asked)
            self.asked.append((time.monotonic(), request))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            due = time.monotonic() + self.latency_s - (0.06 if n % 3 == 2 else 0.0)
            heapq.heappush(self._due, (due, n, request, future))
            self._changed.notify()
        return future

    def _work(self) -> None:
        with self._changed:
            while not self._closed:
                if not self._due:
                    self._changed.wait()
                    continue
                wait_s = self._due[0][0] - time.monotonic()
                if wait_s > 0:
                    self._changed.wait(wait_s)
                    continue
                _, n, request, future = heapq.heappop(self._due)
                self.in_flight -= 1
                self.came_back.append(n)
                if future.set_running_or_notify_cancel():
                    future.set_result(_checksum_frame(self.side, request))

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()


class RemoteChecksumEngine:
    name = "test-remote-checksum"
    capabilities = EngineCapabilities(
        kind=EngineKind.REMOTE,
        remote_input=EngineInput.AUDIO,
        audio_rate_hz=RATE,
        frame_latency_ms=REMOTE_LATENCY_MS,
    )
    sessions: ClassVar[list[_RemoteSession]] = []

    def start(self, avatar):
        session = _RemoteSession(avatar.image.shape[0], REMOTE_LATENCY_MS / 1000)
        self.sessions.append(session)
        return session


class Only512Engine(BlankMotionEngine):
    capabilities = EngineCapabilities(kind=EngineKind.MOTION, min_size_px=512, max_size_px=512)


class FilesOnlyEngine(BlankMotionEngine):
    capabilities = EngineCapabilities(kind=EngineKind.MOTION, live=False, max_fps=30)


TEST_ENGINES = {
    "test-audio-checksum": AudioChecksumEngine,
    "test-blank-motion": BlankMotionEngine,
    "test-remote-checksum": RemoteChecksumEngine,
    "test-512-only": Only512Engine,
    "test-files-only": FilesOnlyEngine,
}


@pytest.fixture(scope="module", autouse=True)
def registered():
    for name, factory in TEST_ENGINES.items():
        register_engine(name, factory)
    yield
    for name in TEST_ENGINES:
        unregister_engine(name)


@pytest.fixture(scope="module")
def avatar(tmp_path_factory):
    return prepare_avatar(
        SAMPLES / "astronaut.png", 256, cache_dir=tmp_path_factory.mktemp("cache")
    )


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """The LibriVox recording as the int16 PCM a client sends (16 kHz, 7.1 s)."""
    with wave.open(str(clip_wav("0870"))) as f:
        assert f.getframerate() == RATE
        return np.frombuffer(f.readframes(f.getnframes()), np.int16)


def _uneven_chunks(pcm: np.ndarray, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    cuts = np.cumsum(rng.integers(1, 2500, size=len(pcm) // 600))
    return np.split(pcm, cuts[cuts < len(pcm)])


def _window(floats: np.ndarray, start: int, length: int) -> np.ndarray:
    out = np.zeros(length, np.float32)
    got = floats[start : start + length]
    out[: len(got)] = got
    return out


async def _collect(session: Session) -> list:
    return [item async for item in session.frames()]


def _pairing(items: list) -> list[tuple]:
    return [
        (f.index, f.pts_s, f.audio.tobytes(), f.speaking, f.segment)
        if isinstance(f, VideoFrame)
        else ("finished", f.segment, f.pts_s)
        for f in items
    ]


def test_audio_driven_engine_hears_each_frames_own_window_and_lookahead(avatar, speech):
    floats = speech.astype(np.float32) / 32768.0
    chunks = _uneven_chunks(speech, seed=7)
    assert len({len(c) for c in chunks}) > 50  # really uneven

    runs = {}
    for engine in ("test-audio-checksum", "test-blank-motion"):
        session = Session(avatar, engine=engine, fps=FPS, output_rate=RATE)
        for chunk in chunks:
            session.push_audio(chunk, RATE)
        session.close()
        runs[engine] = asyncio.run(_collect(session))
    items = runs["test-audio-checksum"]
    heard = AudioChecksumEngine.sessions[-1].heard

    frames = [i for i in items if isinstance(i, VideoFrame)]
    assert isinstance(items[-1], SegmentFinished) and items[-1].segment == 1
    assert len(frames) == round(len(speech) / SAMPLES_PER_FRAME) == len(heard)
    for k, (frame, audio) in enumerate(zip(frames, heard, strict=True)):
        start = k * SAMPLES_PER_FRAME
        own = _window(floats, start, SAMPLES_PER_FRAME)
        ahead = _window(floats, start + SAMPLES_PER_FRAME, LOOKAHEAD)
        assert audio.segment == 1 and audio.frame_in_segment == k
        assert np.array_equal(audio.samples, own), k
        assert np.array_equal(audio.lookahead, ahead), k
        # The image handed out with frame k is the one drawn from frame k's speech.
        assert _read_checksums(frame.image) == (_checksum(own), _checksum(ahead)), k
    # Near the end the look-ahead runs past the speech: zeros stand in for it.
    assert not heard[-1].lookahead.any() and heard[-10].lookahead.any()

    # Each frame carries the same audio as with a motion-driven engine: the speech, in order.
    assert _pairing(items) == _pairing(runs["test-blank-motion"])
    played = np.concatenate([f.audio for f in frames])
    assert np.array_equal(played[: len(speech)], speech) and not played[len(speech) :].any()
    assert AudioChecksumEngine.sessions[-1].closed


def test_audio_frames_wait_for_their_lookahead(avatar, speech):
    """Live: a frame is drawn only once the speech its look-ahead covers has been pushed."""
    chunk = 700  # a little faster than the frames go
    state = {"pushed": 0, "ended": False}

    async def scenario():
        session = Session(avatar, engine="test-audio-checksum", fps=FPS, realtime=True)
        engine_session = AudioChecksumEngine.sessions[-1]
        engine_session.probe = lambda: dict(state)
        seen = []
        async for item in session.frames():
            if isinstance(item, VideoFrame) and item.speaking:
                seen.append(item)
            if state["pushed"] < 2 * RATE:
                session.push_audio(speech[state["pushed"] :][:chunk], RATE)
                state["pushed"] += chunk
            elif not state["ended"]:
                session.end_segment()
                state["ended"] = True
            if isinstance(item, SegmentFinished):
                session.close()
                break
        return seen, engine_session

    seen, engine_session = asyncio.run(scenario())
    assert len(seen) == 2 * RATE // SAMPLES_PER_FRAME
    speaking = [
        (a, n) for a, n in zip(engine_session.heard, engine_session.noted, strict=True) if a.segment
    ]
    assert [a.frame_in_segment for a, _ in speaking] == list(range(len(seen)))
    for audio, noted in speaking:
        needed = (audio.frame_in_segment + 1) * SAMPLES_PER_FRAME + LOOKAHEAD
        # Drawn only once its look-ahead was there, or at the end of the speech.
        assert noted["ended"] or needed <= noted["pushed"], (audio.frame_in_segment, noted)
    assert sum(not noted["ended"] for _, noted in speaking) >= 30


def test_remote_engine_is_asked_its_latency_ahead_and_paced(avatar, speech):
    lead = 5  # 200 ms at 25 fps
    one_s = speech[:RATE]

    async def scenario():
        session = Session(avatar, engine="test-remote-checksum", fps=FPS, realtime=True)
        remote = RemoteChecksumEngine.sessions[-1]
        session.push_audio(one_s, RATE)
        session.end_segment()
        started = time.monotonic()
        shown = []
        async for item in session.frames():
            if isinstance(item, VideoFrame):
                shown.append((time.monotonic(), len(remote.asked), item))
            if isinstance(item, SegmentFinished):
                break
        session.close()
        return started, shown, remote

    started, shown, remote = asyncio.run(scenario())
    frames = [f for _, _, f in shown]
    assert [f.index for f in frames] == list(range(len(frames)))
    assert [f.speaking for f in frames] == [True] * 25
    # The session runs its latency ahead: when frame k is shown, frames up to k + 5 are asked.
    assert [asked for _, asked, _ in shown] == [k + lead + 1 for k in range(len(shown))]
    assert remote.most_in_flight <= lead + 1
    floats = one_s.astype(np.float32) / 32768.0
    for k, frame in enumerate(frames):
        own = _window(floats, k * SAMPLES_PER_FRAME, SAMPLES_PER_FRAME)
        assert _read_checksums(frame.image)[0] == _checksum(own)
        assert np.array_equal(frame.audio, one_s[k * SAMPLES_PER_FRAME :][:SAMPLES_PER_FRAME])
    times = [t for t, _, _ in shown]
    # Paced: the first frame a latency after the start, then one per frame time ...
    assert times[0] - started >= REMOTE_LATENCY_MS / 1000 * 0.95
    assert times[-1] - times[0] >= (len(times) - 1) / FPS * 0.95
    # ... and not a round trip per frame (that would take 25 × 0.2 s = 5 s).
    assert times[-1] - started < len(times) * REMOTE_LATENCY_MS / 1000 / 2


def test_remote_batch_keeps_frames_on_their_way_and_drops_interrupted_ones(avatar, speech):
    session = Session(avatar, engine="test-remote-checksum", fps=FPS)
    remote = RemoteChecksumEngine.sessions[-1]
    session.push_audio(speech[: 2 * RATE], RATE)
    session.end_segment()
    started = time.monotonic()
    items = asyncio.run(_collect_closing(session, after=2 * RATE // SAMPLES_PER_FRAME))
    elapsed = time.monotonic() - started
    frames = [i for i in items if isinstance(i, VideoFrame)]
    assert len(frames) == 50 and all(f.speaking for f in frames)
    assert [f.index for f in frames] == list(range(50))
    assert remote.most_in_flight == 6  # the lead and the one awaited, never more
    assert remote.came_back != sorted(remote.came_back)  # back out of order, shown in order
    floats = speech[: 2 * RATE].astype(np.float32) / 32768.0
    for k, frame in enumerate(frames):
        own = _window(floats, k * SAMPLES_PER_FRAME, SAMPLES_PER_FRAME)
        assert _read_checksums(frame.image)[0] == _checksum(own), k
    assert elapsed < 50 * REMOTE_LATENCY_MS / 1000 / 2  # not a round trip per frame

    async def interrupted():
        live = Session(avatar, engine="test-remote-checksum", fps=FPS, realtime=True)
        live.push_audio(speech[: 2 * RATE], RATE)
        out = []
        async for item in live.frames():
            out.append(item)
            if len(out) == 10:
                live.interrupt()  # frames 10–15 are on their way: none of them is shown
            if len(out) == 16:
                live.close()
                break
        return out

    after = asyncio.run(interrupted())
    assert all(f.speaking for f in after[:10]) and not any(f.speaking for f in after[10:])
    assert not any(f.audio.any() for f in after[10:])
    assert [f.index for f in after] == list(range(16))


async def _collect_closing(session: Session, after: int) -> list:
    items = []
    async for item in session.frames():
        items.append(item)
        if sum(isinstance(i, VideoFrame) for i in items) == after:
            session.close()
    return items


def test_what_an_engine_cannot_do_is_refused_at_construction(avatar):
    with pytest.raises(InputError, match=r"engine 'test-512-only' renders 512 px only, not 256 px"):
        Session(avatar, engine="test-512-only")
    with pytest.raises(InputError, match=r"engine 'warp' renders 5–60 fps only, not 100"):
        Session(avatar, engine="warp", fps=100.0, output_rate=16000)
    with pytest.raises(InputError, match=r"engine 'test-files-only' renders 5–30 fps only"):
        Session(avatar, engine="test-files-only", fps=50.0)
    with pytest.raises(InputError, match=r"engine 'test-files-only' cannot render live"):
        Session(avatar, engine="test-files-only", realtime=True)
    Session(avatar, engine="test-files-only").close()  # a file is fine
    with pytest.raises(InputError, match=r"unknown engine 'nope' \(available: .*warp"):
        Session(avatar, engine="nope")
    with pytest.raises(InputError, match=r"engine 'test-512-only' renders 512 px only"):
        check_engine("test-512-only", size_px=256, fps=FPS, live=False)
    assert check_engine("test-512-only", size_px=512, fps=FPS, live=True).min_size_px == 512
    with pytest.raises(InputError, match=r"'test-audio-checksum' is fed audio, not motion"):
        check_engine(
            "test-audio-checksum", size_px=256, fps=FPS, live=False, fed=EngineInput.MOTION
        )
    with pytest.raises(ValueError, match="audio_rate_hz"):
        EngineCapabilities(kind=EngineKind.AUDIO)
    with pytest.raises(ValueError, match="remote_input"):
        EngineCapabilities(kind=EngineKind.REMOTE)


def test_list_engines_names_each_with_what_it_can_do():
    listed = {e.name: e.capabilities for e in list_engines()}
    warp = listed["warp"]
    assert warp.kind is EngineKind.MOTION and warp.input is EngineInput.MOTION
    assert (warp.min_size_px, warp.max_size_px, warp.min_fps, warp.max_fps) == (128, 1024, 5, 60)
    assert warp.live and warp.first_frame_latency_ms > 0
    assert warp == engine_capabilities("warp") == get_engine("warp").capabilities
    assert listed["test-remote-checksum"].as_dict()["frame_latency_ms"] == REMOTE_LATENCY_MS
    assert listed["test-audio-checksum"].as_dict()["audio_rate_hz"] == RATE

    class Undeclared:  # an engine from before engines declared anything: motion-driven
        def start(self, avatar):
            raise AssertionError

    register_engine("test-undeclared", Undeclared)
    try:
        assert engine_capabilities("test-undeclared").kind is EngineKind.MOTION
    finally:
        unregister_engine("test-undeclared")
    assert "test-undeclared" not in {e.name for e in list_engines()}


def test_frame_windows_cover_the_speech_at_any_fps_and_input_rate():
    """At 30 fps frames span 533 or 534 samples; pushed at 24 kHz, the speech is resampled
    once, and every sample lands in exactly one frame."""
    rng = np.random.default_rng(3)
    speech = rng.standard_normal(RATE * 2).astype(np.float32) * 0.1
    windows = FrameAudioWindows(30.0, RATE, 50.0, segment=4)
    got = []
    for chunk in np.array_split(speech, 37):
        got += windows.push_audio(chunk, RATE)
    got += windows.finish()
    assert len(got) == 60 and {len(f.samples) for f in got} == {533, 534}
    assert np.array_equal(np.concatenate([f.samples for f in got]), speech)
    assert all(len(f.lookahead) == 800 for f in got)
    assert np.array_equal(got[10].lookahead, speech[sum(len(f.samples) for f in got[:11]) :][:800])

    at_24k = FrameAudioWindows(25.0, RATE, 0.0, segment=1)
    out = []
    for chunk in np.array_split(rng.standard_normal(24000).astype(np.float32), 9):
        out += at_24k.push_audio(chunk, 24000)
    out += at_24k.finish()
    assert len(out) == 25 and all(len(f.samples) == SAMPLES_PER_FRAME for f in out)
