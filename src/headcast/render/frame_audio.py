"""Speech cut into what an audio-driven engine hears per frame: its own samples and the
look-ahead it declared, at its own rate.

Frame ``i`` of a segment spans samples ``floor(i·rate/fps) … floor((i+1)·rate/fps)``; it is
handed over once the look-ahead past its end has arrived (or, at the end of the segment or
when a transport cannot wait, with zeros standing in for what never came). However the audio
is chunked, every frame gets the same samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import soxr

# Buffered speech is trimmed once this much lies before the oldest frame still to come.
TRIM_AFTER_SAMPLES = 1 << 16


@dataclass(frozen=True)
class FrameAudio:
    """One frame's speech, mono float32 at the engine's rate.

    ``segment`` is None for an idle frame (silence between turns); ``frame_in_segment``
    counts a segment's frames from 0, so an engine can tell where one turn of speech starts.
    """

    samples: np.ndarray
    lookahead: np.ndarray
    segment: int | None
    frame_in_segment: int


def frame_bounds(frame: int, rate_hz: int, fps: float) -> tuple[int, int]:
    """The samples ``start … end`` (end excluded) that frame ``frame`` spans."""
    return _boundary(frame, rate_hz, fps), _boundary(frame + 1, rate_hz, fps)


def _boundary(frame: int, rate_hz: int, fps: float) -> int:
    return math.floor(frame * rate_hz / fps + 1e-9)


def lookahead_samples(lookahead_ms: float, rate_hz: int) -> int:
    return round(lookahead_ms * rate_hz / 1000)


def silent_frame(frame: int, rate_hz: int, fps: float, lookahead_ms: float) -> FrameAudio:
    """What an audio-driven engine hears for an idle frame."""
    start, end = frame_bounds(frame, rate_hz, fps)
    return FrameAudio(
        np.zeros(end - start, np.float32),
        np.zeros(lookahead_samples(lookahead_ms, rate_hz), np.float32),
        None,
        0,
    )


class FrameAudioWindows:
    """One segment's speech, pushed in any chunks at any rate → FrameAudio, in order."""

    def __init__(self, fps: float, rate_hz: int, lookahead_ms: float, segment: int) -> None:
        self.fps = fps
        self.rate_hz = rate_hz
        self.segment = segment
        self._lookahead = lookahead_samples(lookahead_ms, rate_hz)
        self._buffer = np.zeros(0, np.float32)
        self._offset = 0  # index of the buffer's first sample within the segment
        self._resampler: soxr.ResampleStream | None = None
        self._in_rate: int | None = None
        self._next_frame = 0
        self._finished = False

    @property
    def frames_emitted(self) -> int:
        return self._next_frame

    @property
    def received(self) -> int:
        """Samples of the segment so far, at the engine's rate."""
        return self._offset + len(self._buffer)

    def push_audio(self, samples: np.ndarray, sample_rate: int) -> list[FrameAudio]:
        """Add float32 mono speech; returns the frames whose look-ahead is now complete."""
        if self._finished:
            raise RuntimeError("push_audio after finish")
        if sample_rate != self.rate_hz:
            if self._in_rate != sample_rate:
                self._flush_resampler()
                self._resampler = soxr.ResampleStream(sample_rate, self.rate_hz, 1, dtype="float32")
                self._in_rate = sample_rate
            assert self._resampler is not None
            samples = self._resampler.resample_chunk(samples)
        else:
            self._flush_resampler()
        self._append(samples)
        ready = self._next_frame
        while _boundary(ready + 1, self.rate_hz, self.fps) + self._lookahead <= self.received:
            ready += 1
        return self._emit_until(ready)

    def emit_now(self, n_frames: int) -> list[FrameAudio]:
        """Frames up to ``n_frames`` now, zeros standing in for speech not yet here."""
        if self._finished:
            return []
        return self._emit_until(n_frames)

    def finish(self) -> list[FrameAudio]:
        """End of the segment: every remaining frame up to the end of its speech."""
        self._flush_resampler()
        self._finished = True
        total = round(self.received * self.fps / self.rate_hz)
        return self._emit_until(max(total, self._next_frame))

    def close(self) -> None:
        """Stop without finishing (the speech was interrupted)."""
        self._finished = True
        self._buffer = np.zeros(0, np.float32)

    def _flush_resampler(self) -> None:
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, np.float32), last=True)
            self._resampler = None
            self._in_rate = None
            self._append(tail)

    def _append(self, samples: np.ndarray) -> None:
        self._buffer = np.concatenate([self._buffer, np.asarray(samples, np.float32)])

    def _span(self, start: int, end: int) -> np.ndarray:
        """Samples ``start … end`` of the segment, zeros past what has arrived."""
        lo, hi = start - self._offset, end - self._offset
        got = self._buffer[max(lo, 0) : max(hi, 0)]
        if len(got) == end - start:
            return got.copy()
        return np.concatenate([got, np.zeros(end - start - len(got), np.float32)])

    def _emit_until(self, n_frames: int) -> list[FrameAudio]:
        out = []
        for i in range(self._next_frame, n_frames):
            start, end = frame_bounds(i, self.rate_hz, self.fps)
            out.append(
                FrameAudio(
                    self._span(start, end),
                    self._span(end, end + self._lookahead),
                    self.segment,
                    i,
                )
            )
        self._next_frame = max(self._next_frame, n_frames)
        drop = min(
            _boundary(self._next_frame, self.rate_hz, self.fps) - self._offset, len(self._buffer)
        )
        if drop >= TRIM_AFTER_SAMPLES:
            self._buffer = self._buffer[drop:]
            self._offset += drop
        return out
