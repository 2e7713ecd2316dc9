"""LiveKit audio frames of any rate and channel count as int16 mono at one fixed rate."""

from __future__ import annotations

import numpy as np
from livekit import rtc


def mono_int16(frame: rtc.AudioFrame) -> np.ndarray:
    """The frame's samples, channels averaged, as int16 mono."""
    samples = np.frombuffer(frame.data, dtype=np.int16)
    if frame.num_channels <= 1:
        return samples.copy()
    channels = samples.reshape(-1, frame.num_channels).astype(np.int32)
    return (channels.sum(axis=1) // frame.num_channels).astype(np.int16)


class SpeechResampler:
    """Converts the frames of one turn to ``rate_hz`` mono. ``push`` may hold back a few
    milliseconds (the resampler's filter); ``flush`` at the end of a turn returns them."""

    def __init__(self, rate_hz: int) -> None:
        self.rate_hz = rate_hz
        self._resampler: rtc.AudioResampler | None = None
        self._input_rate_hz = 0

    def push(self, frame: rtc.AudioFrame) -> np.ndarray:
        mono = mono_int16(frame)
        if frame.sample_rate == self.rate_hz and self._resampler is None:
            return mono
        held = np.zeros(0, np.int16)
        if self._resampler is not None and frame.sample_rate != self._input_rate_hz:
            # The TTS changed rates mid-turn: finish the old rate's tail first.
            held = self.flush()
        if frame.sample_rate == self.rate_hz:
            return np.concatenate([held, mono])
        if self._resampler is None:
            self._resampler = rtc.AudioResampler(frame.sample_rate, self.rate_hz, num_channels=1)
            self._input_rate_hz = frame.sample_rate
        mono_frame = rtc.AudioFrame(mono.tobytes(), frame.sample_rate, 1, len(mono))
        return np.concatenate([held, *_samples(self._resampler.push(mono_frame))])

    def flush(self) -> np.ndarray:
        """The samples held back; the next turn starts afresh."""
        resampler, self._resampler = self._resampler, None
        if resampler is None:
            return np.zeros(0, np.int16)
        return np.concatenate([np.zeros(0, np.int16), *_samples(resampler.flush())])

    def reset(self) -> None:
        """Forget the samples held back (an interrupted turn)."""
        self._resampler = None


def _samples(frames: list[rtc.AudioFrame]) -> list[np.ndarray]:
    return [np.frombuffer(f.data, dtype=np.int16).copy() for f in frames]


def audio_frame(pcm: np.ndarray, rate_hz: int) -> rtc.AudioFrame:
    """An rtc.AudioFrame of int16 mono samples."""
    samples = np.ascontiguousarray(pcm, dtype=np.int16)
    return rtc.AudioFrame(samples.tobytes(), rate_hz, 1, len(samples))
