"""Prosody: loudness and pitch (F0) over time — the cues for mouth scale, nods and brows.

Measured as the audio arrives, in 10 ms steps, and each block of steps judged against the
speech heard up to its end (the loud level of the last seconds, the speaker's usual pitch so
far): a step's value never depends on the audio after its block. Blocks are fixed 40 ms
whatever the pushes (``LiveLipSync``), so a clip rendered whole and the same clip streamed
give the same values.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from headcast.audio.clip import ANALYSIS_SAMPLE_RATE_HZ
from headcast.audio.pitch import PITCH_WINDOW_MS, pitch_hz
from headcast.motion import tunables as T

STEP_SAMPLES = ANALYSIS_SAMPLE_RATE_HZ // T.CURVE_RATE_HZ
QUIET_BELOW_LOUD_DB = 30.0  # this far below the recent loud level counts as silent
BLOCK_STEPS = 4  # steps judged against one reference: the 40 ms a live stream decodes at once


class _Steps:
    """Per-step values appended as they are measured; the oldest can be let go."""

    def __init__(self) -> None:
        self._values = np.zeros(1024, np.float32)
        self._first = 0  # step number of self._values[0]
        self._count = 0  # steps stored

    @property
    def end(self) -> int:
        return self._first + self._count

    def append(self, values: np.ndarray) -> None:
        if self._count + len(values) > len(self._values):
            grown = np.zeros(max(2 * len(self._values), self._count + len(values)), np.float32)
            grown[: self._count] = self._values[: self._count]
            self._values = grown
        self._values[self._count : self._count + len(values)] = values
        self._count += len(values)

    def slice(self, start: int, stop: int) -> np.ndarray:
        """Steps ``start … stop - 1``; those let go or not measured yet are 0."""
        out = np.zeros(max(stop - start, 0), np.float32)
        lo, hi = max(start, self._first), min(stop, self.end)
        if hi > lo:
            out[lo - start : hi - start] = self._values[lo - self._first : hi - self._first]
        return out

    def forget_before(self, step: int) -> None:
        drop = min(max(step - self._first, 0), self._count)
        if drop:
            self._values[: self._count - drop] = self._values[drop : self._count]
            self._first += drop
            self._count -= drop


class ProsodyStream:
    """Loudness in [0, 1] and pitch in semitones from the speaker's median, per 10 ms step.

    Audio comes in whole steps (any multiple of ``STEP_SAMPLES`` of 16 kHz mono float32).
    Steps a caller no longer needs are let go (``forget_before``), so a stream that goes on
    for hours holds seconds.
    """

    def __init__(self) -> None:
        self._db = np.zeros(0, np.float64)
        self._loudness = _Steps()
        self._semitones = _Steps()
        self._voiced_log2: deque[float] = deque()  # log2 F0 of the recent voiced steps
        self._voiced_steps: deque[int] = deque()
        # Pitch frames are centred: each needs half a window of audio either side.
        self._context = np.zeros(int(ANALYSIS_SAMPLE_RATE_HZ * PITCH_WINDOW_MS / 1000), np.float32)

    @property
    def n_steps(self) -> int:
        return self._loudness.end

    def push(self, samples: np.ndarray) -> None:
        """Measure whole steps of audio; each 40 ms block of them (counted from the start of
        the stream) is judged against the speech up to its end, however the pushes fall."""
        if len(samples) % STEP_SAMPLES:
            raise ValueError(f"prosody takes whole {STEP_SAMPLES}-sample steps")
        n = len(samples) // STEP_SAMPLES
        if n == 0:
            return
        first = self.n_steps
        steps = samples.reshape(n, STEP_SAMPLES).astype(np.float64)
        db = 10 * np.log10(np.mean(steps**2, axis=1) + 1e-12)
        f0 = self._pitch(samples, n)
        history = int(T.LOUDNESS_HISTORY_S * T.CURVE_RATE_HZ)
        pitch_history = int(T.PITCH_HISTORY_S * T.CURVE_RATE_HZ)
        recent_db = np.concatenate([self._db, db])
        loudness = np.empty(n, np.float32)
        semitones = np.zeros(n, np.float32)
        cut = 0
        while cut < n:
            stop = min(cut + BLOCK_STEPS - (first + cut) % BLOCK_STEPS, n)
            end = len(self._db) + stop  # in recent_db
            loud = float(np.percentile(recent_db[max(end - history, 0) : end], 95))
            level = (db[cut:stop] - (loud - QUIET_BELOW_LOUD_DB)) / QUIET_BELOW_LOUD_DB
            loudness[cut:stop] = np.clip(level, 0.0, 1.0)
            for k in range(cut, stop):
                if np.isfinite(f0[k]):
                    self._voiced_log2.append(float(np.log2(f0[k])))
                    self._voiced_steps.append(first + k)
            while self._voiced_steps and self._voiced_steps[0] < first + stop - pitch_history:
                self._voiced_steps.popleft()
                self._voiced_log2.popleft()
            if self._voiced_log2:
                median = float(np.median(self._voiced_log2))
                voiced = np.isfinite(f0[cut:stop])
                semitones[cut:stop][voiced] = 12 * (np.log2(f0[cut:stop][voiced]) - median)
            cut = stop
        self._db = recent_db[-history:]
        self._loudness.append(loudness)
        self._semitones.append(semitones)

    def _pitch(self, samples: np.ndarray, n: int) -> np.ndarray:
        """F0 of the ``n`` steps of ``samples`` (NaN where unvoiced)."""
        audio = np.concatenate([self._context, samples])
        self._context = audio[-len(self._context) :]
        # Frame k of pitch_hz is centred on sample k * STEP_SAMPLES of ``audio``: only those
        # whose whole window is here are taken, so pitch runs half a window behind.
        first = len(self._context) // STEP_SAMPLES // 2
        f0 = pitch_hz(audio, ANALYSIS_SAMPLE_RATE_HZ)[first : first + n]
        return np.pad(f0, (0, n - len(f0)), constant_values=np.nan)

    def loudness(self, start: int, stop: int) -> np.ndarray:
        """Loudness of steps ``start … stop - 1`` (those not measured yet are silent)."""
        return self._loudness.slice(start, stop)

    def semitones(self, start: int, stop: int) -> np.ndarray:
        """Pitch of steps ``start … stop - 1`` in semitones from the median so far; 0 unvoiced."""
        return self._semitones.slice(start, stop)

    def forget_before(self, step: int) -> None:
        """Steps before ``step`` will not be asked for again."""
        self._loudness.forget_before(step)
        self._semitones.forget_before(step)
