"""Gaze: steady fixations near the camera with quick jumps between them, and an occasional
glance away at the start of a pause, as people do when they gather their thoughts."""

from __future__ import annotations

import bisect

import numpy as np

from headcast.motion import tunables as T


class Gaze:
    """Fixations for as long as a stream lasts; frames are asked for in time order."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._times: list[float] = [0.0]
        self._targets: list[tuple[float, float]] = [(0.0, 0.0)]
        self._next = float(rng.exponential(T.GAZE_FIXATION_MEAN_S))
        self._away_until = -1.0

    def _draw_until(self, t: float) -> None:
        while self._next <= t:
            x = float(self._rng.normal(0, T.GAZE_JITTER))
            y = float(self._rng.normal(0, T.GAZE_JITTER * 0.6))
            self._insert(self._next, (x, y))
            self._next += max(float(self._rng.exponential(T.GAZE_FIXATION_MEAN_S)), 0.4)

    def _insert(self, t: float, target: tuple[float, float]) -> None:
        if t < self._away_until:
            return  # looking away: the next fixation waits for the look back
        k = bisect.bisect_right(self._times, t)
        self._times.insert(k, t)
        self._targets.insert(k, target)

    def glance_away(self, t: float, side: float, seconds: float) -> None:
        """Look aside from ``t`` for ``seconds`` (a pause begins), then back at the camera."""
        self._draw_until(t)
        self._insert(t, (side * T.GAZE_AWAY, -0.3 * T.GAZE_AWAY))
        self._insert(t + seconds, (0.0, 0.0))
        self._away_until = t + seconds

    def at(self, t: float) -> tuple[float, float]:
        self._draw_until(t)
        k = max(bisect.bisect_right(self._times, t) - 1, 0)
        # Older fixations are no longer needed.
        if k > 8:
            del self._times[: k - 1], self._targets[: k - 1]
            k = 1
        x, y = self._targets[k]
        return float(np.clip(x, -1, 1)), float(np.clip(y, -1, 1))
