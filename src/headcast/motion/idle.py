"""Idle behaviour for live streams: blinks, head sway and gaze as pure functions of frame time,
so a stream can ask for any frame without holding the whole clip."""

from __future__ import annotations

import numpy as np

from headcast.motion import tunables as T


class IdleMotion:
    """Blinks, sway and fixations that go on for as long as a stream lasts."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = np.random.default_rng(seed)
        self._blinks: list[float] = []
        self._next_blink = self._rng.uniform(0.5, T.BLINK_MEAN_INTERVAL_S)
        self._fixations: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)]
        self._next_fixation = self._rng.exponential(T.GAZE_FIXATION_MEAN_S)
        self._sway = [
            [
                (
                    T.HEAD_SWAY_PERIOD_S / ratio * self._rng.uniform(0.8, 1.25),
                    share,
                    self._rng.uniform(0, 2 * np.pi),
                )
                for ratio, share in ((1.0, 0.6), (0.53, 0.3), (2.3, 0.1))
            ]
            for _ in range(3)
        ]

    def _extend(self, t: float) -> None:
        while self._next_blink <= t + 1.0:
            self._blinks.append(self._next_blink)
            gap = T.BLINK_MIN_INTERVAL_S + self._rng.gamma(
                2.0, (T.BLINK_MEAN_INTERVAL_S - T.BLINK_MIN_INTERVAL_S) / 2.0
            )
            self._next_blink += gap
        while self._next_fixation <= t + 1.0:
            x, y = self._rng.normal(0, T.GAZE_JITTER), self._rng.normal(0, T.GAZE_JITTER * 0.6)
            self._fixations.append((self._next_fixation, x, y))
            self._next_fixation += max(self._rng.exponential(T.GAZE_FIXATION_MEAN_S), 0.4)

    def blink(self, t: float) -> float:
        self._extend(t)
        close, hold, reopen = (
            T.BLINK_CLOSE_MS / 1000,
            T.BLINK_HOLD_MS / 1000,
            T.BLINK_OPEN_MS / 1000,
        )
        value = 0.0
        for start in reversed(self._blinks):
            rel = t - start
            if rel > close + hold + reopen:
                break
            if rel < 0:
                continue
            if rel < close:
                value = max(value, (rel / close) ** 1.5)
            elif rel < close + hold:
                value = 1.0
            else:
                value = max(value, 1.0 - ((rel - close - hold) / reopen) ** 0.8)
        return float(value)

    def gaze(self, t: float) -> tuple[float, float]:
        self._extend(t)
        times = [f[0] for f in self._fixations]
        k = max(int(np.searchsorted(times, t, side="right")) - 1, 0)
        return float(self._fixations[k][1]), float(self._fixations[k][2])

    def sway_deg(self, t: float) -> tuple[float, float, float]:
        amplitudes = (T.HEAD_SWAY_YAW_DEG, T.HEAD_SWAY_PITCH_DEG, T.HEAD_SWAY_ROLL_DEG)
        return tuple(  # type: ignore[return-value]
            float(
                amp
                * sum(
                    share * np.sin(2 * np.pi * t / period + phase) for period, share, phase in waves
                )
            )
            for amp, waves in zip(amplitudes, self._sway, strict=True)
        )
