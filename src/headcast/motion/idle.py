"""Idle behaviour between turns of a live stream: blinks, head sway and gaze as functions of
frame time, so a stream can go on for as long as it lasts without holding a clip."""

from __future__ import annotations

import numpy as np

from headcast.motion import tunables as T
from headcast.motion.blinks import Blinks
from headcast.motion.gaze import Gaze
from headcast.motion.head import HeadSway


def motion_streams(seed: int) -> tuple[np.random.Generator, ...]:
    """One random stream per part of the face (blinks, gaze, head, pauses), so what one part
    draws leaves the others as they were."""
    return tuple(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))


class IdleMotion:
    """Blinks, sway and fixations that go on for as long as a stream lasts; times asked for
    in order."""

    def __init__(self, seed: int = 0, head_motion: float = T.HEAD_MOTION_DEFAULT) -> None:
        blink_rng, gaze_rng, head_rng, _ = motion_streams(seed)
        self._blinks = Blinks(blink_rng)
        self._gaze = Gaze(gaze_rng)
        self._sway = HeadSway(head_rng, head_motion)

    def blink(self, t: float) -> float:
        return self._blinks.closure(t)

    def gaze(self, t: float) -> tuple[float, float]:
        return self._gaze.at(t)

    def sway_deg(self, t: float) -> tuple[float, float, float]:
        return self._sway.at(t)
