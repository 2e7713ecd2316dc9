"""Head motion: a slow idle sway, nods with loudness, and lift and tilt that follow pitch."""

from __future__ import annotations

import numpy as np

from headcast.motion import tunables as T

# Three incommensurate sines per axis: (period share of HEAD_SWAY_PERIOD_S, amplitude share).
_SWAY_WAVES = ((1.0, 0.6), (0.53, 0.3), (2.3, 0.1))


class HeadSway:
    """Smooth idle sway as a pure function of time: (yaw, pitch, roll) in degrees."""

    def __init__(self, rng: np.random.Generator, intensity: float = T.HEAD_MOTION_DEFAULT) -> None:
        self._gain = intensity / T.HEAD_MOTION_DEFAULT
        self._waves = [
            [
                (
                    T.HEAD_SWAY_PERIOD_S / ratio * float(rng.uniform(0.8, 1.25)),
                    share,
                    float(rng.uniform(0, 2 * np.pi)),
                )
                for ratio, share in _SWAY_WAVES
            ]
            for _ in range(3)
        ]

    def at(self, t: float) -> tuple[float, float, float]:
        amplitudes = (T.HEAD_SWAY_YAW_DEG, T.HEAD_SWAY_PITCH_DEG, T.HEAD_SWAY_ROLL_DEG)
        yaw, pitch, roll = (
            amp * sum(share * np.sin(2 * np.pi * t / period + phase) for period, share, phase in w)
            for amp, w in zip(amplitudes, self._waves, strict=True)
        )
        g = self._gain
        return float(yaw) * g, float(pitch) * g, float(roll) * g


class SpeakingHead:
    """The sway, plus a nod that follows loudness and a lift and tilt that follow pitch,
    smoothed over the frames so far; frames are asked for in order."""

    def __init__(
        self, rng: np.random.Generator, fps: float, intensity: float = T.HEAD_MOTION_DEFAULT
    ) -> None:
        self._gain = intensity / T.HEAD_MOTION_DEFAULT
        self._sway = HeadSway(rng, intensity)
        self._nod_rate = min(1.0 / (T.HEAD_NOD_SMOOTHING_MS / 1000 * fps), 1.0)
        self._pitch_rate = min(1.0 / (T.HEAD_PITCH_SMOOTHING_MS / 1000 * fps), 1.0)
        self._nod = 0.0
        self._octaves = 0.0

    def at(self, t: float, loudness: float, semitones: float) -> tuple[float, float, float]:
        self._nod += (loudness - self._nod) * self._nod_rate
        self._octaves += (semitones / 12.0 - self._octaves) * self._pitch_rate
        yaw, pitch, roll = self._sway.at(t)
        g = self._gain
        pitch += g * (
            T.HEAD_NOD_DEG * self._nod - T.HEAD_PITCH_FOLLOWS_F0_DEG_PER_OCTAVE * self._octaves
        )
        roll += g * T.HEAD_TILT_FOLLOWS_F0_DEG_PER_OCTAVE * self._octaves
        return yaw, pitch, roll
