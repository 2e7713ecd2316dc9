"""Head handover: when a live stream's face switches between its idle motion and a turn of
speech (each made by its own step from its own start), the head eases from where it was into
the new motion instead of jumping there."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from headcast.motion import tunables as T
from headcast.motion.face_motion import FaceMotion

_NO_SOURCE = object()


class HeadHandover:
    """Frames in the order shown, each with the source it comes from (a segment number, or
    None for idle); the head's offset at a change of source fades out over
    ``HEAD_HANDOVER_MS``."""

    def __init__(self, fps: float) -> None:
        self._frames = max(T.HEAD_HANDOVER_MS / 1000 * fps, 1.0)
        self._source: object = _NO_SOURCE
        self._last: np.ndarray | None = None
        self._offset = np.zeros(3)
        self._age = 0

    def __call__(self, motion: FaceMotion, source: int | None) -> FaceMotion:
        pose = np.array([motion.head_yaw_deg, motion.head_pitch_deg, motion.head_roll_deg])
        if source != self._source:
            if self._last is not None:
                self._offset = self._last - pose
            self._source, self._age = source, 0
        share = min(self._age / self._frames, 1.0)
        out = pose + self._offset * (1.0 - share * share * (3.0 - 2.0 * share))
        self._age += 1
        self._last = out
        if not self._offset.any() or share >= 1.0:
            return motion
        return replace(
            motion,
            head_yaw_deg=float(out[0]),
            head_pitch_deg=float(out[1]),
            head_roll_deg=float(out[2]),
        )
