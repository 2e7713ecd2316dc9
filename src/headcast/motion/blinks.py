"""Eye blinks: natural intervals, more likely at pauses, each a fast close and slower open."""

from __future__ import annotations

import numpy as np

from headcast.motion import tunables as T
from headcast.phones.track import PhoneTrack


def blink_times(duration_s: float, pauses_s: list[float], rng: np.random.Generator) -> list[float]:
    """Start times of blinks: a renewal process with a refractory gap, nudged towards pauses.

    The renewal process draws first and each pause after it in turn, so a pause changes no
    blink before it: the blinks up to a time depend only on the pauses up to then.
    """
    times: list[float] = []
    t = rng.uniform(0.5, T.BLINK_MEAN_INTERVAL_S)
    while t < duration_s:
        times.append(t)
        t += T.BLINK_MIN_INTERVAL_S + rng.gamma(
            2.0, (T.BLINK_MEAN_INTERVAL_S - T.BLINK_MIN_INTERVAL_S) / 2.0
        )
    for pause in pauses_s:
        if rng.random() < T.BLINK_AT_PAUSE_PROBABILITY:
            times.append(pause)
    times.sort()
    kept: list[float] = []
    for b in times:
        if b < duration_s and (not kept or b - kept[-1] >= T.BLINK_MIN_INTERVAL_S):
            kept.append(b)
    return kept


def blink_curve(starts_s: list[float], fps: float, n_frames: int) -> np.ndarray:
    """Lid closure per frame in [0, 1]."""
    t = np.arange(n_frames) / fps
    closure = np.zeros(n_frames, np.float32)
    close, hold, reopen = T.BLINK_CLOSE_MS / 1000, T.BLINK_HOLD_MS / 1000, T.BLINK_OPEN_MS / 1000
    for start in starts_s:
        rel = t - start
        shape = np.where(
            rel < close,
            np.clip(rel / close, 0, 1) ** 1.5,
            np.where(
                rel < close + hold, 1.0, 1.0 - np.clip((rel - close - hold) / reopen, 0, 1) ** 0.8
            ),
        )
        shape = np.where((rel < 0) | (rel > close + hold + reopen), 0.0, shape)
        closure = np.maximum(closure, shape.astype(np.float32))
    return closure


def pause_starts(track: PhoneTrack, min_pause_s: float) -> list[float]:
    return [
        p.start_s
        for p in track.phones
        if p.is_silence and p.duration_s >= min_pause_s and p.start_s > 0
    ]
