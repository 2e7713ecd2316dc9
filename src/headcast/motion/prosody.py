"""Prosody: loudness and pitch (F0) over time — the cues for mouth scale, nods and brows.

Measured as the audio arrives, 10 ms steps at a time, and each step judged against the speech
heard up to it (the loud level of the last seconds, the speaker's usual pitch so far): a step's
value never depends on how much audio came after it, so a clip rendered whole and the same
clip streamed give the same values.
"""

from __future__ import annotations

import numpy as np

from headcast.audio.clip import ANALYSIS_SAMPLE_RATE_HZ
from headcast.audio.pitch import PITCH_WINDOW_MS, pitch_hz
from headcast.motion import tunables as T

STEP_SAMPLES = ANALYSIS_SAMPLE_RATE_HZ // T.CURVE_RATE_HZ
QUIET_BELOW_LOUD_DB = 30.0  # this far below the recent loud level counts as silent


class ProsodyStream:
    """Loudness in [0, 1] and pitch in semitones from the speaker's median, per 10 ms step.

    Audio comes in whole steps (any multiple of ``STEP_SAMPLES`` of 16 kHz mono float32).
    """

    def __init__(self) -> None:
        self._db = np.zeros(0, np.float64)
        self._loudness = np.zeros(0, np.float32)
        self._semitones = np.zeros(0, np.float32)
        self._voiced_log2: list[float] = []  # log2 F0 of the voiced steps so far
        self._voiced_steps: list[int] = []
        # Pitch frames are centred: each needs half a window of audio either side.
        self._context = np.zeros(int(ANALYSIS_SAMPLE_RATE_HZ * PITCH_WINDOW_MS / 1000), np.float32)

    @property
    def n_steps(self) -> int:
        return len(self._loudness)

    def push(self, samples: np.ndarray) -> None:
        if len(samples) % STEP_SAMPLES:
            raise ValueError(f"prosody takes whole {STEP_SAMPLES}-sample steps")
        n = len(samples) // STEP_SAMPLES
        if n == 0:
            return
        steps = samples.reshape(n, STEP_SAMPLES).astype(np.float64)
        db = 10 * np.log10(np.mean(steps**2, axis=1) + 1e-12)
        self._db = np.concatenate([self._db, db])
        history = int(T.LOUDNESS_HISTORY_S * T.CURVE_RATE_HZ)
        loud = float(np.percentile(self._db[-history:], 95))
        self._db = self._db[-history:]
        level = np.clip((db - (loud - QUIET_BELOW_LOUD_DB)) / QUIET_BELOW_LOUD_DB, 0.0, 1.0)
        self._loudness = np.concatenate([self._loudness, level.astype(np.float32)])
        self._semitones = np.concatenate([self._semitones, self._pitch(samples, n)])

    def _pitch(self, samples: np.ndarray, n: int) -> np.ndarray:
        audio = np.concatenate([self._context, samples])
        self._context = audio[-len(self._context) :]
        # Frame k of pitch_hz is centred on sample k * STEP_SAMPLES of ``audio``: only those
        # whose whole window is here are taken, so pitch runs half a window behind.
        first = len(self._context) // STEP_SAMPLES // 2
        f0 = pitch_hz(audio, ANALYSIS_SAMPLE_RATE_HZ)[first : first + n]
        f0 = np.pad(f0, (0, n - len(f0)), constant_values=np.nan)
        out = np.zeros(n, np.float32)
        base = self.n_steps - n
        history = int(T.PITCH_HISTORY_S * T.CURVE_RATE_HZ)
        for k in np.flatnonzero(np.isfinite(f0)):
            self._voiced_log2.append(float(np.log2(f0[k])))
            self._voiced_steps.append(base + int(k))
        while self._voiced_steps and self._voiced_steps[0] < base + n - history:
            self._voiced_steps.pop(0)
            self._voiced_log2.pop(0)
        if self._voiced_log2:
            median = float(np.median(self._voiced_log2))
            voiced = np.isfinite(f0)
            out[voiced] = 12 * (np.log2(f0[voiced]) - median)
        return out

    def loudness(self, start: int, stop: int) -> np.ndarray:
        """Loudness of steps ``start … stop - 1`` (those not measured yet are silent)."""
        return _slice(self._loudness, start, stop)

    def semitones(self, start: int, stop: int) -> np.ndarray:
        """Pitch of steps ``start … stop - 1`` in semitones from the median so far; 0 unvoiced."""
        return _slice(self._semitones, start, stop)


def _slice(values: np.ndarray, start: int, stop: int) -> np.ndarray:
    start, stop = max(start, 0), max(stop, 0)
    out = values[start:stop]
    return np.pad(out, (0, max(stop - start - len(out), 0)))
