"""Head motion: a slow drift, a new posture at each phrase, nods on stressed syllables, and a
lift and tilt that follow pitch; settling back in long pauses.

Amplitudes are those of real people talking to camera (measured with an independent landmark
model on footage of news anchors, addresses and vlogs) at the default intensity, and scale
with it: 0 holds the head still.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headcast.motion import tunables as T
from headcast.motion.accents import Beat

# Three incommensurate sines per axis: (period share of HEAD_DRIFT_PERIOD_S, amplitude share).
_DRIFT_WAVES = ((1.0, 0.6), (0.53, 0.3), (2.3, 0.1))
_AXES = 3  # yaw, pitch, roll


def _gain(intensity: float) -> float:
    return float(intensity) / T.HEAD_MOTION_DEFAULT


def _ease(share: float) -> float:
    s = min(max(share, 0.0), 1.0)
    return s * s * (3.0 - 2.0 * s)


class HeadSway:
    """The slow drift as a pure function of time: (yaw, pitch, roll) in degrees."""

    def __init__(self, rng: np.random.Generator, intensity: float = T.HEAD_MOTION_DEFAULT) -> None:
        self._gain = _gain(intensity)
        self._amplitudes = np.array(T.HEAD_DRIFT_DEG) * self._gain
        self._waves = [
            [
                (
                    T.HEAD_DRIFT_PERIOD_S / ratio * float(rng.uniform(0.8, 1.25)),
                    share,
                    float(rng.uniform(0, 2 * np.pi)),
                )
                for ratio, share in _DRIFT_WAVES
            ]
            for _ in range(_AXES)
        ]

    def at(self, t: float) -> tuple[float, float, float]:
        yaw, pitch, roll = (
            amp * sum(share * np.sin(2 * np.pi * t / period + phase) for period, share, phase in w)
            for amp, w in zip(self._amplitudes, self._waves, strict=True)
        )
        return float(yaw), float(pitch), float(roll)


@dataclass(frozen=True)
class _Move:
    """An eased move of the posture from one pose to another."""

    start_s: float
    duration_s: float
    src: np.ndarray
    dst: np.ndarray

    def at(self, t: float) -> np.ndarray:
        return self.src + (self.dst - self.src) * _ease((t - self.start_s) / self.duration_s)


class SpeakingHead:
    """The drift, plus what the speech does to the head: a posture taken at each phrase start
    and held through it, a nod (with a little turn and tilt) on stressed syllables, a nod that
    follows loudness and a lift and tilt that follow pitch. In a pause the posture eases back.

    Beats are heard as they become known (``hear``) and frames asked for in order (``at``):
    a beat found after its motion should have begun starts from the frame being made.
    """

    def __init__(
        self, rng: np.random.Generator, fps: float, intensity: float = T.HEAD_MOTION_DEFAULT
    ) -> None:
        self._gain = _gain(intensity)
        self._rng = rng
        self._sway = HeadSway(rng, intensity)
        self._nod_rate = min(1.0 / (T.HEAD_NOD_SMOOTHING_MS / 1000 * fps), 1.0)
        self._pitch_rate = min(1.0 / (T.HEAD_PITCH_SMOOTHING_MS / 1000 * fps), 1.0)
        self._nod = 0.0
        self._octaves = 0.0
        self._move = _Move(0.0, 1.0, np.zeros(_AXES), np.zeros(_AXES))
        self._nods: list[tuple[float, np.ndarray]] = []  # start, (yaw, pitch, roll) at the peak
        self._speaking_until_s = 0.0

    def hear(self, beats: list[Beat], now_s: float) -> None:
        """Take in beats of the speech; ``now_s`` is the frame about to be made."""
        for beat in beats:
            self._speaking_until_s = max(self._speaking_until_s, beat.end_s)
            if beat.phrase_start:
                self._new_posture(beat.start_s, now_s)
            elif beat.strength > 0:
                self._add_nod(beat, now_s)

    def _new_posture(self, phrase_s: float, now_s: float) -> None:
        start = max(phrase_s - T.HEAD_POSTURE_LEAD_MS / 1000, now_s)
        spread = np.array(T.HEAD_POSTURE_DEG) * self._gain
        target = np.clip(self._rng.normal(0.0, 1.0, _AXES), -2.0, 2.0) * spread
        self._move = _Move(start, T.HEAD_POSTURE_MOVE_MS / 1000, self._move.at(start), target)

    def _add_nod(self, beat: Beat, now_s: float) -> None:
        middle = 0.5 * (beat.start_s + beat.end_s)
        half = T.HEAD_BEAT_NOD_MS / 2000
        start = max(middle - half, now_s)
        if self._nods and start - self._nods[-1][0] < T.HEAD_BEAT_MIN_GAP_S:
            return
        turn, tilt = self._rng.uniform(-1.0, 1.0, 2)
        peak = np.array(
            [
                T.HEAD_BEAT_TURN_DEG * turn,
                T.HEAD_BEAT_NOD_DEG,
                T.HEAD_BEAT_TILT_DEG * tilt,
            ]
        )
        self._nods.append((start, peak * beat.strength * self._gain))
        del self._nods[:-3]

    def _settle(self, t: float) -> None:
        """Deep into a pause the posture eases back towards the middle."""
        quiet_s = t - self._speaking_until_s
        if quiet_s < T.HEAD_SETTLE_AFTER_S or not self._move.dst.any():
            return
        if t < self._move.start_s + self._move.duration_s:
            return
        self._move = _Move(
            t, T.HEAD_SETTLE_MS / 1000, self._move.at(t), self._move.dst * T.HEAD_SETTLE_SHARE
        )

    def at(self, t: float, loudness: float, semitones: float) -> tuple[float, float, float]:
        self._nod += (loudness - self._nod) * self._nod_rate
        self._octaves += (semitones / 12.0 - self._octaves) * self._pitch_rate
        self._settle(t)
        pose = np.array(self._sway.at(t)) + self._move.at(t)
        duration = T.HEAD_BEAT_NOD_MS / 1000
        for start, peak in self._nods:
            if start <= t < start + duration:
                pose += peak * np.sin(np.pi * (t - start) / duration) ** 2
        g = self._gain
        pose[1] += g * (
            T.HEAD_NOD_DEG * self._nod - T.HEAD_PITCH_FOLLOWS_F0_DEG_PER_OCTAVE * self._octaves
        )
        pose[2] += g * T.HEAD_TILT_FOLLOWS_F0_DEG_PER_OCTAVE * self._octaves
        return float(pose[0]), float(pose[1]), float(pose[2])
