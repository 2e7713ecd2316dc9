"""Playing the base: the person's own frames in order, joined to other stretches of the clip
where frames look and move alike, so that it runs for any length, speaking or idle."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headcast.render.enrolled import tunables as T


@dataclass(frozen=True)
class BaseStep:
    """The base frame to show, and the frame it fades from after a join (weight of the old);
    ``joined`` on the frame a join lands on."""

    index: int
    fading_from: int | None = None
    fade_weight: float = 0.0
    joined: bool = False


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
        # When each frame was last shown (in frames drawn), so that joins seek what has not
        # been seen for a while rather than circle one pose.
        self._shown_at = np.full(len(usable), -np.inf)
        self._clock = 0
        self._recent_frames = min(T.RECENT_S * fps, T.RECENT_SHARE * float(usable.sum()))
        self._first = True
        self.joins = 0

    def _draw_stretch(self) -> int:
        return int(self._rng.uniform(T.STRETCH_MIN_S, T.STRETCH_MAX_S) * self._fps)

    def step(self, speaking: bool) -> BaseStep:
        self._clock += 1
        if self._first:
            self._first = False
            self._shown_at[self._current] = self._clock
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
        self._shown_at[self._current] = self._clock
        if self._fade:
            old = self._fade.pop(0)
            weight = (len(self._fade) + 1) / (T.JOIN_FADE_FRAMES + 1)
            return BaseStep(self._current, old, weight, joined=target is not None)
        return BaseStep(self._current)

    def _join_from(self, frame: int, speaking: bool, *, matching_only: bool) -> int | None:
        targets = self._join_to[frame]
        ok = targets >= 0
        if not ok.any():
            return None
        targets = targets[ok]
        # Only into stretches that can play a while (else the base loops over a few frames
        # before a cut), of the wanted kind first; then the cheapest, with a little chance.
        lasting = self._run_left[targets] >= T.STRETCH_MIN_S * self._fps
        if not lasting.any():
            return None
        targets = targets[lasting]
        # Only into what has not been shown for a while: joins near the clip's end lead back
        # a second or two, and the base would circle there.
        targets = targets[self._fresh(targets)]
        if len(targets) == 0:
            return None
        matching = self._speaking[targets] == speaking
        if matching.any():
            targets = targets[matching]
        elif matching_only:
            return None
        # Any join that passed is unseen: the cheapest would pull the base towards the
        # clip's commonest pose, and its head would move less than the person's.
        return int(self._rng.choice(targets))

    def _fresh(self, frames: np.ndarray) -> np.ndarray:
        """Which of ``frames`` have not been shown for a while (``RECENT_S``, less for a short
        clip)."""
        return self._clock - self._shown_at[frames] > self._recent_frames

    def _nearest(self, frame: int) -> int:
        """Where to go from a dead end with no join: the most alike frame well away from it."""
        far = np.abs(np.arange(len(self._usable)) - frame) > self._fps
        allowed = self._usable & far & (self._run_left >= T.STRETCH_MIN_S * self._fps)
        unseen = allowed & self._fresh(np.arange(len(allowed)))
        if unseen.any():
            allowed = unseen
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
