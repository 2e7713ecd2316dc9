"""The streaming Session: audio in (any rate, any chunking), timestamped video frames out,
each paired with the audio it belongs to.

A batch render and a live stream are the same path: a batch is a stream whose audio arrives at
once and whose frames are produced as fast as possible. Live sessions are paced in real time
and show idle frames (blinks, small motion, mouth at rest) whenever no speech is queued.

Each engine is fed what it asks for (see ``headcast.render``): a motion-driven one FaceMotion
from live lip-sync, an audio-driven one each frame's speech with its look-ahead; a remote
one's frames are requested its declared latency ahead of showing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import numpy as np
import soxr

from headcast.audio.clip import to_pcm16
from headcast.face.avatar import Avatar
from headcast.motion.face_motion import FaceMotion
from headcast.motion.handover import HeadHandover
from headcast.motion.head_intensity import HEAD_MOTION_DEFAULT, head_motion_intensity
from headcast.motion.idle import IdleMotion
from headcast.motion.live import DEFAULT_LOOKAHEAD_MS
from headcast.render import EngineInput, EngineSession, FrameRequest, engine_for, get_engine
from headcast.render.capabilities import EngineCapabilities
from headcast.render.fallback import on_engine_or_fallback
from headcast.render.frame_audio import silent_frame
from headcast.render.frame_pipeline import FramePipeline
from headcast.render.remote_latency import RemoteLatency
from headcast.render.speech_feeds import SpeechFeed, speech_feed

DEFAULT_OUTPUT_RATE_HZ = 16_000
IDLE_POLL_S = 0.005  # how often a batch session checks for new input while waiting
# A live speaking frame waits this share of a frame for audio running late (pushed in real
# time, or lip-sync slowed by load) rather than cutting the speech with an idle frame.
LATE_SPEECH_WAIT_FRAMES = 1.0


@dataclass(frozen=True)
class VideoFrame:
    """One frame and the output audio that plays during it (int16 mono at the session's rate)."""

    index: int
    pts_s: float
    image: np.ndarray
    audio: np.ndarray
    speaking: bool
    segment: int | None


@dataclass(frozen=True)
class SegmentFinished:
    """All frames of a segment have been produced."""

    segment: int
    pts_s: float


_NextItem = tuple[FrameRequest, np.ndarray, int | None] | SegmentFinished | None


class _Segment:
    def __init__(self, number: int, feed: SpeechFeed) -> None:
        self.number = number
        self.feed = feed  # speech → each frame's engine input
        self.requests: deque[FrameRequest] = deque()
        self.audio: deque[np.ndarray] = deque()  # output-rate int16 chunks
        self.audio_buffered = 0
        self.ended = False
        self.finished_feed = False


def _start_engine(
    name: str, avatar: Avatar, fps: float, live: bool
) -> tuple[str, EngineCapabilities, EngineSession]:
    chosen = get_engine(name)
    height, width = avatar.image.shape[:2]
    chosen.capabilities.check(name, size_px=max(height, width), fps=fps, live=live)
    return name, chosen.capabilities, chosen.start(avatar)


class Session:
    """One avatar speaking: push audio, mark segment ends, interrupt; iterate over frames.

    ``head_motion`` is how much the head moves while idle and speaking, 0 (still) to 1 (the
    liveliest); a bool is read as the switch it was (True: the default).
    """

    def __init__(
        self,
        avatar: Avatar,
        *,
        engine: str | None = None,
        fps: float = 25.0,
        output_rate: int = DEFAULT_OUTPUT_RATE_HZ,
        realtime: bool = False,
        lookahead_ms: float = DEFAULT_LOOKAHEAD_MS,
        head_motion: float | bool = HEAD_MOTION_DEFAULT,
        seed: int = 0,
        fast_phones: bool = True,
    ) -> None:
        if (output_rate / fps) % 1:
            raise ValueError("output_rate / fps must be a whole number of samples")
        self.fps = fps
        self.output_rate = output_rate
        self.realtime = realtime
        self._samples_per_frame = int(round(output_rate / fps))
        intensity = head_motion_intensity(head_motion)
        engine = engine_for(avatar, engine)
        # Engines that play a recorded head (enrolled) scale it by the same intensity.
        avatar = replace(avatar, head_motion=intensity)
        # The one rendering: the fallback's name where it took over.
        self.engine, self.capabilities, rendering = on_engine_or_fallback(
            engine, lambda name: _start_engine(name, avatar, fps, realtime)
        )
        self._frames = FramePipeline(rendering, self.capabilities, fps)
        self._idle = IdleMotion(seed, intensity)
        self._handover = HeadHandover(fps)
        self._lookahead_ms = lookahead_ms
        self._head_motion = intensity
        self._fast_phones = fast_phones
        self._seed = seed
        self._lock = threading.Lock()  # queues shared by input and output
        self._input_lock = threading.Lock()  # one push / segment end at a time
        self._segments: deque[_Segment] = deque()
        self._dropped: list[_Segment] = []  # interrupted, their lip-sync not yet freed
        self._segment_count = 0
        self._interrupt_count = 0
        self._cut_through = 0  # segments numbered up to this one existed when an interrupt came
        self._resamplers: dict[int, soxr.ResampleStream] = {}
        self._frame_index = 0
        self._closed = False
        # A live session's pacing wait wakes when new frame inputs or an interrupt arrive.
        self._wake: asyncio.Event | None = None
        self._wake_loop: asyncio.AbstractEventLoop | None = None
        self._interrupted = False
        self._showing_speech = False  # the last frame decided belongs to a segment

    # -- input -------------------------------------------------------------------------------

    def push_audio(
        self, pcm: np.ndarray, sample_rate: int, *, interrupts_seen: int | None = None
    ) -> None:
        """Queue speech (int16 or float, mono, any rate); it joins the open segment.

        Speech being pushed when an interrupt comes is dropped with the rest. A caller that
        queues its input passes ``interrupts_seen`` (``interrupt_count`` when it took the
        input): the push is dropped if an interrupt came since.
        """
        samples = np.asarray(pcm)
        floats = (
            samples.astype(np.float32) / 32768.0
            if samples.dtype == np.int16
            else samples.astype(np.float32)
        )
        with self._input_lock:
            self._close_dropped()
            with self._lock:
                if self._closed:
                    raise RuntimeError("push_audio on a closed session")
                interrupts = self._interrupt_count if interrupts_seen is None else interrupts_seen
                if interrupts != self._interrupt_count:
                    return
                open_ = self._segments and not self._segments[-1].ended
                segment = self._segments[-1] if open_ else None
                if segment is None:
                    self._segment_count += 1
                    number = self._segment_count
            if segment is None:
                segment = self._new_segment(number)  # its feed's set-up is off the frame lock
                with self._lock:
                    if interrupts != self._interrupt_count:
                        self._dropped.append(segment)
                        return
                    self._segments.append(segment)
            # Lip-sync analysis runs outside the frame lock: frames keep flowing meanwhile.
            requests = segment.feed.push_audio(floats, sample_rate)
            with self._lock:
                if interrupts != self._interrupt_count:
                    return  # the segment went with the interrupt
                segment.requests.extend(requests)
                out = self._to_output(floats, sample_rate)
                segment.audio.append(to_pcm16(out))
                segment.audio_buffered += len(out)
        if requests:
            self._wake_pacing()

    def finalize_frames(self, frame_count: int) -> None:
        """Make the open segment's first ``frame_count`` frames final now.

        For request/response transports that must answer each audio chunk before the next
        one arrives: the last frames see less look-ahead instead of waiting for more audio.
        """
        with self._input_lock:
            with self._lock:
                if not self._segments or self._segments[-1].ended:
                    return
                segment = self._segments[-1]
            requests = segment.feed.emit_now(frame_count)
            with self._lock:
                segment.requests.extend(requests)
        self._wake_pacing()

    def end_segment(self) -> None:
        """The open segment is complete: its remaining frames can be produced."""
        with self._input_lock:
            with self._lock:
                if not self._segments or self._segments[-1].ended:
                    return
                segment = self._segments[-1]
                segment.ended = True
            requests = segment.feed.finish()
            with self._lock:
                segment.requests.extend(requests)
                segment.finished_feed = True
                tail = self._flush_output()
                if len(tail):
                    segment.audio.append(to_pcm16(tail))
                    segment.audio_buffered += len(tail)
        self._wake_pacing()

    def interrupt(self) -> None:
        """Drop all queued speech at once; the next frame is idle."""
        with self._lock:
            self._dropped.extend(self._segments)
            self._segments.clear()
            self._resamplers.clear()
            self._interrupted = True
            self._interrupt_count += 1
            self._cut_through = self._segment_count
        self._wake_pacing()

    @property
    def interrupt_count(self) -> int:
        """Interrupts so far."""
        with self._lock:
            return self._interrupt_count

    def remote_latency(self) -> RemoteLatency | None:
        """A remote engine's latencies (first frame, per chunk) measured since the last call."""
        return self._frames.remote_latency()

    def was_cut(self, segment: int) -> bool:
        """Whether an interrupt came while ``segment`` existed: its frames not yet shown are
        stale speech."""
        with self._lock:
            return segment <= self._cut_through

    def close(self) -> None:
        """No more input; iteration ends once queued speech has been shown."""
        self.end_segment()
        with self._input_lock:
            self._close_dropped()
            with self._lock:
                self._closed = True

    # -- output ------------------------------------------------------------------------------

    async def frames(self) -> AsyncIterator[VideoFrame | SegmentFinished]:
        """Frames in order (and segment-finished events), paced in real time when live.

        A live session decides what a frame shows only at the frame's time, and an interrupt
        or the start of speech wakes that wait: the frame is made at once and the frame clock
        restarts from it (media time stays ``index / fps``). A speaking frame whose audio is a
        little late is waited for, up to ``LATE_SPEECH_WAIT_FRAMES``, rather than cut by silence.

        A remote engine's frames are asked for its declared latency ahead of their time and
        handed out in order as they come back: the session's clock runs that far ahead of what
        it shows. The engine's session is closed when the iteration ends.
        """
        # A remote engine's lead is asked for at once: its first frame shows as soon as the
        # engine answers, not a lead's worth of ticks later.
        started = time.monotonic() - self._frames.lead_frames / self.fps
        # Until the lead asked at once shows its first frame; from then on frames follow at
        # the frame rate rather than all those already back at once.
        refilling = self._frames.lead_frames > 0
        self._wake = asyncio.Event()
        self._wake_loop = asyncio.get_running_loop()
        interrupts_seen = 0
        try:
            while True:
                cut_before = self._frames.cut_dropped
                if self.interrupt_count != interrupts_seen:
                    interrupts_seen = self.interrupt_count
                    self._frames.cancel_cut(self.was_cut)
                shown_before = self._frame_index
                async for out in self._hand_out(everything=False, ready_only=False):
                    yield out
                decided = self._decision_index()
                if self._frames.lead_frames and self._frames.cut_dropped != cut_before:
                    # Frames on their way were cut: the idle face is asked for from now on,
                    # its lead at once, so it shows as soon as the engine answers.
                    lead = self._frames.lead_frames
                    started = time.monotonic() - (decided + lead) / self.fps
                    refilling = True
                elif refilling and self._frame_index != shown_before:
                    started = time.monotonic() - (decided - 1) / self.fps
                    refilling = False
                if self.realtime and await self._pace(started + decided / self.fps):
                    started = time.monotonic() - decided / self.fps
                item = self._next()
                if item is None and self.realtime:
                    item = await self._wait_for_late_speech()
                if item is None:
                    with self._lock:
                        done = self._closed and not self._segments
                    if done:
                        async for out in self._hand_out(everything=True, ready_only=False):
                            yield out
                        return
                    if not self.realtime:
                        async for out in self._hand_out(everything=False, ready_only=True):
                            yield out
                        await asyncio.sleep(IDLE_POLL_S)
                        continue
                    item = (self._idle_request(), np.zeros(self._samples_per_frame, np.int16), None)
                if isinstance(item, SegmentFinished):
                    self._frames.end_segment(item.segment)
                    continue
                request, audio, segment = item
                self._showing_speech = segment is not None
                if isinstance(request, FaceMotion):
                    # Idle and each turn make their motion from their own start.
                    request = self._handover(request, segment)
                self._frames.ask(request, audio, segment)
        finally:
            self._frames.close()

    async def _hand_out(
        self, *, everything: bool, ready_only: bool
    ) -> AsyncIterator[VideoFrame | SegmentFinished]:
        """The frames due (see ``FramePipeline.next_due``); a cut frame's index shows the
        idle face instead."""
        while due := await self._frames.next_due(
            self.was_cut, everything=everything, ready_only=ready_only
        ):
            entry, image = due
            if entry.finished is not None:
                yield SegmentFinished(entry.finished, self._frame_index / self.fps)
                continue
            assert image is not None
            index = self._frame_index
            self._frame_index += 1
            speaking = entry.segment is not None
            yield VideoFrame(index, index / self.fps, image, entry.carried, speaking, entry.segment)

    def _decision_index(self) -> int:
        """The index the next frame decided will have: those shown plus those on their way."""
        return self._frame_index + self._frames.on_their_way(self.was_cut)

    async def _pace(self, due: float) -> bool:
        """Wait until ``due`` (monotonic s); True when something needs a frame sooner."""
        while (delay := due - time.monotonic()) > 0:
            if await self._wait_for_wake(delay) and self._frame_wanted_now():
                return True
        return False

    async def _wait_for_late_speech(self) -> _NextItem:
        """The next item, if the face is mid-speech and its audio comes within the grace time."""
        deadline = time.monotonic() + LATE_SPEECH_WAIT_FRAMES / self.fps
        item = None
        while item is None and self._speech_due():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            await self._wait_for_wake(left)
            item = self._next()
        return item

    async def _wait_for_wake(self, timeout_s: float) -> bool:
        assert self._wake is not None
        try:
            await asyncio.wait_for(self._wake.wait(), timeout_s)
            woken = True
        except TimeoutError:
            woken = False
        self._wake.clear()
        return woken

    def _frame_wanted_now(self) -> bool:
        """An interrupt to show, or speech ready to start while the face is idle."""
        with self._lock:
            interrupted, self._interrupted = self._interrupted, False
            speech_ready = bool(self._segments and self._segments[0].requests)
        if self._showing_speech:
            return interrupted
        return speech_ready

    def _speech_due(self) -> bool:
        """The face is mid-speech and its open segment's next frame has not arrived yet."""
        with self._lock:
            return (
                self._showing_speech
                and bool(self._segments)
                and not self._segments[0].ended
                and not self._segments[0].requests
            )

    def _wake_pacing(self) -> None:
        loop, wake = self._wake_loop, self._wake
        if loop is not None and wake is not None and self.realtime:
            # A closed loop has nothing waiting on it.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    def _next(self) -> _NextItem:
        t = self._decision_index() / self.fps
        with self._lock:
            while self._segments:
                segment = self._segments[0]
                if segment.requests:
                    request = segment.requests.popleft()
                    audio = self._take_audio(segment)
                    return request, audio, segment.number
                if segment.ended and segment.finished_feed:
                    self._segments.popleft()
                    return SegmentFinished(segment.number, t)
                return None
        return None

    def _idle_request(self) -> FrameRequest:
        """What the engine is fed for a frame without speech."""
        if self.capabilities.input is EngineInput.AUDIO:
            rate = self.capabilities.audio_rate_hz
            assert rate is not None
            lookahead_ms = self.capabilities.audio_lookahead_ms
            return silent_frame(self._decision_index(), rate, self.fps, lookahead_ms)
        return self._idle_motion()

    def _idle_motion(self) -> FaceMotion:
        t = self._decision_index() / self.fps
        yaw, pitch, roll = self._idle.sway_deg(t)
        gaze_x, gaze_y = self._idle.gaze(t)
        return FaceMotion(
            blink=self._idle.blink(t), gaze_x=gaze_x, gaze_y=gaze_y,
            head_yaw_deg=yaw, head_pitch_deg=pitch, head_roll_deg=roll,
        )  # fmt: skip

    # -- helpers -----------------------------------------------------------------------------

    def _new_segment(self, number: int) -> _Segment:
        feed = speech_feed(
            self.capabilities,
            segment=number,
            fps=self.fps,
            lookahead_ms=self._lookahead_ms,
            seed=self._seed + number,
            head_motion=self._head_motion,
            fast_phones=self._fast_phones,
        )
        return _Segment(number, feed)

    def _close_dropped(self) -> None:
        """Free the feeds of interrupted segments (under the input lock: none is in use)."""
        with self._lock:
            dropped, self._dropped = self._dropped, []
        for segment in dropped:
            segment.feed.close()

    def _to_output(self, samples: np.ndarray, rate: int) -> np.ndarray:
        if rate == self.output_rate:
            return samples
        stream = self._resamplers.get(rate)
        if stream is None:
            stream = soxr.ResampleStream(rate, self.output_rate, 1, dtype="float32")
            self._resamplers = {rate: stream}
        return stream.resample_chunk(samples)

    def _flush_output(self) -> np.ndarray:
        tails = [
            s.resample_chunk(np.zeros(0, np.float32), last=True) for s in self._resamplers.values()
        ]
        self._resamplers = {}
        return np.concatenate(tails) if tails else np.zeros(0, np.float32)

    def _take_audio(self, segment: _Segment) -> np.ndarray:
        need = self._samples_per_frame
        parts, got = [], 0
        while got < need and segment.audio:
            chunk = segment.audio.popleft()
            take = min(need - got, len(chunk))
            parts.append(chunk[:take])
            if take < len(chunk):
                segment.audio.appendleft(chunk[take:])
            got += take
        segment.audio_buffered -= got
        if got < need:
            parts.append(np.zeros(need - got, np.int16))
        return np.concatenate(parts)
