"""The streaming Session: audio in (any rate, any chunking), timestamped video frames out,
each paired with the audio it belongs to.

A batch render and a live stream are the same path: a batch is a stream whose audio arrives at
once and whose frames are produced as fast as possible. Live sessions are paced in real time
and show idle frames (blinks, small motion, mouth at rest) whenever no speech is queued.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import numpy as np
import soxr

from headcast.face.avatar import Avatar
from headcast.motion.face_motion import FaceMotion
from headcast.motion.idle import IdleMotion
from headcast.motion.live import DEFAULT_LOOKAHEAD_MS, LiveLipSync
from headcast.render import get_engine

DEFAULT_OUTPUT_RATE_HZ = 16_000
IDLE_POLL_S = 0.005  # how often a batch session checks for new input while waiting


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


class _Segment:
    def __init__(
        self, number: int, fps: float, lookahead_ms: float, seed: int, head_motion: bool
    ) -> None:
        self.number = number
        self.lipsync = LiveLipSync(
            fps, lookahead_ms=lookahead_ms, seed=seed, head_motion=head_motion
        )
        self.motions: deque[FaceMotion] = deque()
        self.audio: deque[np.ndarray] = deque()  # output-rate int16 chunks
        self.audio_buffered = 0
        self.ended = False
        self.finished_lipsync = False


class Session:
    """One avatar speaking: push audio, mark segment ends, interrupt; iterate over frames."""

    def __init__(
        self,
        avatar: Avatar,
        *,
        engine: str = "warp",
        fps: float = 25.0,
        output_rate: int = DEFAULT_OUTPUT_RATE_HZ,
        realtime: bool = False,
        lookahead_ms: float = DEFAULT_LOOKAHEAD_MS,
        head_motion: bool = True,
        seed: int = 0,
    ) -> None:
        if (output_rate / fps) % 1:
            raise ValueError("output_rate / fps must be a whole number of samples")
        self.fps = fps
        self.output_rate = output_rate
        self.realtime = realtime
        self._samples_per_frame = int(round(output_rate / fps))
        self._renderer = get_engine(engine).start(avatar)
        self._idle = IdleMotion(seed)
        self._lookahead_ms = lookahead_ms
        self._head_motion = head_motion
        self._seed = seed
        self._lock = threading.Lock()
        self._segments: deque[_Segment] = deque()
        self._segment_count = 0
        self._resamplers: dict[int, soxr.ResampleStream] = {}
        self._frame_index = 0
        self._closed = False

    # -- input -------------------------------------------------------------------------------

    def push_audio(self, pcm: np.ndarray, sample_rate: int) -> None:
        """Queue speech (int16 or float, mono, any rate); it joins the open segment."""
        samples = np.asarray(pcm)
        floats = (
            samples.astype(np.float32) / 32768.0
            if samples.dtype == np.int16
            else samples.astype(np.float32)
        )
        with self._lock:
            if self._closed:
                raise RuntimeError("push_audio on a closed session")
            segment = self._open_segment()
            motions = segment.lipsync.push_audio(floats, sample_rate)
            segment.motions.extend(m for _, m in motions)
            out = self._to_output(floats, sample_rate)
            segment.audio.append(np.clip(np.rint(out * 32767), -32768, 32767).astype(np.int16))
            segment.audio_buffered += len(out)

    def end_segment(self) -> None:
        """The open segment is complete: its remaining frames can be produced."""
        with self._lock:
            if self._segments and not self._segments[-1].ended:
                segment = self._segments[-1]
                segment.ended = True
                segment.motions.extend(m for _, m in segment.lipsync.finish())
                segment.finished_lipsync = True
                tail = self._flush_output()
                if len(tail):
                    segment.audio.append(
                        np.clip(np.rint(tail * 32767), -32768, 32767).astype(np.int16)
                    )
                    segment.audio_buffered += len(tail)

    def interrupt(self) -> None:
        """Drop all queued speech at once; the next frame is idle."""
        with self._lock:
            self._segments.clear()
            self._resamplers.clear()

    def close(self) -> None:
        """No more input; iteration ends once queued speech has been shown."""
        self.end_segment()
        with self._lock:
            self._closed = True

    # -- output ------------------------------------------------------------------------------

    async def frames(self) -> AsyncIterator[VideoFrame | SegmentFinished]:
        """Frames in order (and segment-finished events), paced in real time when live."""
        started = time.monotonic()
        while True:
            item = self._next()
            if item is None:
                with self._lock:
                    done = self._closed and not self._segments
                if done:
                    return
                if not self.realtime:
                    await asyncio.sleep(IDLE_POLL_S)
                    continue
                item = (self._idle_motion(), np.zeros(self._samples_per_frame, np.int16), None)
            if isinstance(item, SegmentFinished):
                yield item
                continue
            motion, audio, segment = item
            index = self._frame_index
            self._frame_index += 1
            if self.realtime:
                delay = started + index / self.fps - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            image = await asyncio.to_thread(self._renderer.render, motion)
            yield VideoFrame(index, index / self.fps, image, audio, segment is not None, segment)

    def _next(self) -> tuple[FaceMotion, np.ndarray, int | None] | SegmentFinished | None:
        with self._lock:
            while self._segments:
                segment = self._segments[0]
                if segment.motions:
                    motion = segment.motions.popleft()
                    audio = self._take_audio(segment)
                    t = self._frame_index / self.fps
                    # The face keeps blinking and moving across segments, not just within one.
                    motion = replace(motion, blink=max(motion.blink, self._idle.blink(t)))
                    return motion, audio, segment.number
                if segment.ended and segment.finished_lipsync:
                    self._segments.popleft()
                    return SegmentFinished(segment.number, self._frame_index / self.fps)
                return None
        return None

    def _idle_motion(self) -> FaceMotion:
        t = self._frame_index / self.fps
        yaw, pitch, roll = self._idle.sway_deg(t) if self._head_motion else (0.0, 0.0, 0.0)
        gaze_x, gaze_y = self._idle.gaze(t)
        return FaceMotion(
            blink=self._idle.blink(t), gaze_x=gaze_x, gaze_y=gaze_y,
            head_yaw_deg=yaw, head_pitch_deg=pitch, head_roll_deg=roll,
        )  # fmt: skip

    # -- helpers -----------------------------------------------------------------------------

    def _open_segment(self) -> _Segment:
        if not self._segments or self._segments[-1].ended:
            self._segment_count += 1
            seed = self._seed + self._segment_count
            self._segments.append(
                _Segment(self._segment_count, self.fps, self._lookahead_ms, seed, self._head_motion)
            )
        return self._segments[-1]

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
