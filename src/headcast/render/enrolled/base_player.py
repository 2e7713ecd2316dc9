"""Playing the base: the person's own frames in order, joined to other stretches of the clip
where frames look and move alike, so that it runs for any length, speaking or idle."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headcast.render.enrolled import tunables as T


@dataclass(frozen=True)
class BaseStep:
    """The base frame to show, and the frame it fades from after a join (weight of the old)."""

    index: int
    fading_from: int | None = None
    fade_weight: float = 0.0


class BasePlayer:
    def __init__(
        self,
        usable: np.ndarray,
        follows: np.ndarray,
        join_to: np.ndarray,
        join_cost: np.ndarray,
        features: np.ndarray,
        speaking: np.ndarray,
        fps: float,
        seed: int,
    ) -> None:
        self._usable = usable
        self._join_to = join_to
        self._join_cost = join_cost
        self._features = features
        self._speaking = speaking
        self._fps = fps
        self._rng = np.random.default_rng(seed)
        self._run_left = _run_left(usable, follows)
        starts = np.flatnonzero(self._run_left >= fps * T.STRETCH_MIN_S)
        if len(starts) == 0:
            starts = np.flatnonzero(usable)
        self._current = int(self._rng.choice(starts))
        self._stretch_left = self._draw_stretch()
        self._mismatch = 0
        self._fade: list[int] = []  # the old stretch's frames still to fade out
        self._first = True
        self.joins = 0

    def _draw_stretch(self) -> int:
        return int(self._rng.uniform(T.STRETCH_MIN_S, T.STRETCH_MAX_S) * self._fps)

    def step(self, speaking: bool) -> BaseStep:
        if self._first:
            self._first = False
            return BaseStep(self._current)
        current = self._current
        self._mismatch = self._mismatch + 1 if bool(self._speaking[current]) != speaking else 0
        self._stretch_left -= 1
        must = self._run_left[current] <= T.JOIN_FADE_FRAMES + 1
        done = self._stretch_left <= 0
        out_of_step = self._mismatch >= T.STATE_MISMATCH_S * self._fps
        target = None
        if must or done:
            target = self._join_from(current, speaking, matching_only=False)
        elif out_of_step:
            # Only into a stretch of the right kind: a clip of speech alone has no idle one.
            target = self._join_from(current, speaking, matching_only=True)
        if target is None and must:
            target = self._nearest(current)
        if target is not None:
            # The old stretch fades out over its next frames; where it ends sooner (a cut,
            # the clip's end), its last frame is held while it fades.
            last = current + int(self._run_left[current]) - 1
            self._fade = [min(current + k, last) for k in range(1, T.JOIN_FADE_FRAMES + 1)]
            self._current = target
            self._stretch_left = self._draw_stretch()
            self._mismatch = 0
            self.joins += 1
        else:
            self._current = current + 1
        if self._fade:
            old = self._fade.pop(0)
            weight = (len(self._fade) + 1) / (T.JOIN_FADE_FRAMES + 1)
            return BaseStep(self._current, old, weight)
        return BaseStep(self._current)

    def _join_from(self, frame: int, speaking: bool, *, matching_only: bool) -> int | None:
        targets = self._join_to[frame]
        ok = targets >= 0
        if not ok.any():
            return None
        targets, costs = targets[ok], self._join_cost[frame][ok]
        # Only into stretches that can play a while (else the base loops over a few frames
        # before a cut), of the wanted kind first; then the cheapest, with a little chance.
        lasting = self._run_left[targets] >= T.STRETCH_MIN_S * self._fps
        if not lasting.any():
            return None
        targets, costs = targets[lasting], costs[lasting]
        matching = self._speaking[targets] == speaking
        if matching.any():
            targets, costs = targets[matching], costs[matching]
        elif matching_only:
            return None
        pick = int(np.argmin(costs + self._rng.uniform(0, 0.2, len(costs))))
        return int(targets[pick])

    def _nearest(self, frame: int) -> int:
        """Where to go from a dead end with no join: the most alike frame well away from it."""
        far = np.abs(np.arange(len(self._usable)) - frame) > self._fps
        allowed = self._usable & far & (self._run_left >= T.STRETCH_MIN_S * self._fps)
        if not allowed.any():
            allowed = self._usable & (self._run_left > 1)
        candidates = np.flatnonzero(allowed)
        distance = np.linalg.norm(self._features[candidates] - self._features[frame], axis=1)
        return int(candidates[int(np.argmin(distance))])


def _run_left(usable: np.ndarray, follows: np.ndarray) -> np.ndarray:
    """For each frame, how many frames can be played from it in a row (itself included):
    usable, and each carrying on from the one before."""
    left = np.zeros(len(usable), np.int64)
    count = 0
    for i in range(len(usable) - 1, -1, -1):
        carries_on = i + 1 < len(usable) and follows[i + 1]
        count = (count + 1 if carries_on else 1) if usable[i] else 0
        left[i] = count
    return left
