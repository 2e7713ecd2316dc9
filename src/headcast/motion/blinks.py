"""Eye blinks: natural intervals, more likely at pauses, each a fast close and slower open."""

from __future__ import annotations

import numpy as np

from headcast.motion import tunables as T

_CLOSE_S, _HOLD_S, _OPEN_S = (
    T.BLINK_CLOSE_MS / 1000,
    T.BLINK_HOLD_MS / 1000,
    T.BLINK_OPEN_MS / 1000,
)


def blink_closure(since_start_s: float) -> float:
    """Lid closure in [0, 1] this long after a blink began."""
    rel = since_start_s
    if rel < 0 or rel > _CLOSE_S + _HOLD_S + _OPEN_S:
        return 0.0
    if rel < _CLOSE_S:
        return float((rel / _CLOSE_S) ** 1.5)
    if rel < _CLOSE_S + _HOLD_S:
        return 1.0
    # Clamped: rel - close - hold can round below zero just past the hold.
    return float(1.0 - max((rel - _CLOSE_S - _HOLD_S) / _OPEN_S, 0.0) ** 0.8)


class Blinks:
    """A renewal process of blinks with a refractory gap, for as long as a stream lasts, and
    blinks added where a pause begins. Frames are asked for in time order."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._starts: list[float] = []
        self._next = float(rng.uniform(0.5, T.BLINK_MEAN_INTERVAL_S))

    def _draw_until(self, t: float) -> None:
        while self._next <= t:
            if not self._starts or self._next - self._starts[-1] >= T.BLINK_MIN_INTERVAL_S:
                self._starts.append(self._next)
            self._next += T.BLINK_MIN_INTERVAL_S + float(
                self._rng.gamma(2.0, (T.BLINK_MEAN_INTERVAL_S - T.BLINK_MIN_INTERVAL_S) / 2.0)
            )

    def add(self, t: float) -> None:
        """A blink starting at ``t`` (at a pause), unless one began too recently."""
        self._draw_until(t)
        if not self._starts or t - self._starts[-1] >= T.BLINK_MIN_INTERVAL_S:
            self._starts.append(t)

    def avoid(self, start_s: float, end_s: float) -> None:
        """Hold off a blink that has not begun yet so that the lids are open from ``start_s``
        to ``end_s`` (a stressed syllable)."""
        if start_s - (_CLOSE_S + _HOLD_S + _OPEN_S) < self._next < end_s:
            self._next = end_s

    def closure(self, t: float) -> float:
        self._draw_until(t)
        value = 0.0
        for start in reversed(self._starts):
            if t - start > _CLOSE_S + _HOLD_S + _OPEN_S:
                break
            value = max(value, blink_closure(t - start))
        return value
