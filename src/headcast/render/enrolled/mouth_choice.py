"""Choosing the atlas mouth for each frame: the one whose shape best fits what the motion
asks for, from a head posed like the base frame's, following smoothly from the last one."""

from __future__ import annotations

import numpy as np

from headcast.enrol.mouth_targets import MouthTargets
from headcast.render.enrolled import tunables as T

SPREAD_FLOOR = 1e-3


class MouthChooser:
    def __init__(
        self,
        shapes: np.ndarray,
        pose: np.ndarray,
        skin_rgb: np.ndarray,
        usable: np.ndarray,
        targets: MouthTargets,
    ) -> None:
        self._candidates = np.flatnonzero(usable)
        spread = shapes[usable].std(axis=0)
        self._scale = np.sqrt(np.asarray(T.SHAPE_WEIGHTS, np.float32)) / np.maximum(
            spread, SPREAD_FLOOR
        )
        self._shapes = shapes * self._scale  # weighted units: squared distance is the cost
        self._pose = pose[:, :2] / T.POSE_SCALE_DEG
        self._skin = skin_rgb * np.sqrt(T.COLOUR_WEIGHT)
        self._targets = targets
        self._is_candidate = usable
        self.previous: int | None = None

    def choose(self, controls: np.ndarray, base: int) -> int:
        """The atlas frame for mouth ``controls`` (MOUTH_CONTROLS order) on base frame
        ``base``."""
        target = self._targets(controls[None, :])[0] * self._scale
        c = self._candidates
        cost = ((self._shapes[c] - target) ** 2).sum(1)
        cost += ((self._pose[c] - self._pose[base]) ** 2).sum(1)
        cost += ((self._skin[c] - self._skin[base]) ** 2).sum(1)
        previous = self.previous
        if previous is not None:
            follows = previous + 1
            if follows >= len(self._is_candidate) or not self._is_candidate[follows]:
                follows = previous
            cost += T.SMOOTHNESS_WEIGHT * ((self._shapes[c] - self._shapes[follows]) ** 2).sum(1)
            cost += np.where(c == follows, 0.0, T.SWITCH_COST)
        chosen = int(c[int(np.argmin(cost))])
        self.previous = chosen
        return chosen
