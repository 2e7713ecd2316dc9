"""Choosing the atlas mouth for each frame: the one whose shape best fits what the motion
asks for, from a head posed like the base frame's, following smoothly from the last one."""

from __future__ import annotations

import numpy as np

from headcast.enrol.mouth_targets import MouthTargets
from headcast.motion.visemes import MOUTH_CONTROLS
from headcast.render.enrolled import tunables as T

SPREAD_FLOOR = 1e-3
PRESS = MOUTH_CONTROLS.index("lip_press")
PATH_CANDIDATES = 24  # per frame, the best fitting mouths a path may go through


class MouthChooser:
    def __init__(
        self,
        shapes: np.ndarray,
        pose: np.ndarray,
        skin_rgb: np.ndarray,
        usable: np.ndarray,
        follows: np.ndarray,
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
        self._follows = follows
        # Lips that touch: as closed as the clip's most closed tenth.
        opening = shapes[:, 0]
        self._closed = opening <= np.quantile(opening[usable], T.CLOSED_SHARE)
        self.previous: int | None = None

    def _fit(self, controls: np.ndarray, base: int) -> np.ndarray:
        """How badly each candidate fits: its shape against the target, its pose and light
        against the base frame's."""
        wanted = self._targets(controls[None, :])
        target = wanted[0] * self._scale
        c = self._candidates
        cost = ((self._shapes[c] - target) ** 2).sum(1)
        # Closed lips are wanted closed, not nearly so: only a mouth whose lips touch will do.
        closing = controls[PRESS] >= T.CLOSED_PRESS or wanted[0, 0] <= self._targets.bias[0] + 1e-4
        if closing:
            cost += np.where(self._closed[c], 0.0, T.OPEN_WHEN_CLOSED_COST)
        cost += ((self._pose[c] - self._pose[base]) ** 2).sum(1)
        cost += ((self._skin[c] - self._skin[base]) ** 2).sum(1)
        return cost

    def _follower(self, frame: int) -> int:
        """The frame that naturally follows ``frame`` in the atlas (itself at a gap)."""
        follows = frame + 1
        if (
            follows >= len(self._is_candidate)
            or not self._is_candidate[follows]
            or not self._follows[follows]
        ):
            return frame
        return follows

    def _step_cost(self, previous: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """(len(previous), len(candidates)) cost of each candidate after each previous one."""
        follows = np.array([self._follower(int(p)) for p in previous])
        change = self._shapes[candidates][None, :, :] - self._shapes[follows][:, None, :]
        cost = T.SMOOTHNESS_WEIGHT * (change**2).sum(-1)
        return cost + np.where(candidates[None, :] == follows[:, None], 0.0, T.SWITCH_COST)

    def choose(self, controls: np.ndarray, base: int) -> int:
        """The atlas frame for mouth ``controls`` (MOUTH_CONTROLS order) on base frame
        ``base``, chosen now (a live frame)."""
        cost = self._fit(controls, base)
        if self.previous is not None:
            cost += self._step_cost(np.array([self.previous]), self._candidates)[0]
        chosen = int(self._candidates[int(np.argmin(cost))])
        self.previous = chosen
        return chosen

    def choose_path(self, controls: np.ndarray, bases: np.ndarray) -> list[int]:
        """The atlas frames for a run of frames (controls (n, 8), their base frames), the
        best path over the whole run (Viterbi over each frame's best candidates)."""
        steps: list[tuple[np.ndarray, np.ndarray]] = []  # per frame: candidates, back-pointers
        if self.previous is not None:
            states, totals = np.array([self.previous]), np.zeros(1)
        else:
            states, totals = None, None
        for row, base in zip(controls, bases, strict=True):
            fit = self._fit(row, int(base))
            best = (
                self._candidates[np.argpartition(fit, PATH_CANDIDATES)[:PATH_CANDIDATES]]
                if len(fit) > PATH_CANDIDATES
                else self._candidates
            )
            if states is not None:
                follows = np.array([self._follower(int(s)) for s in states])
                best = np.union1d(best, follows[self._is_candidate[follows]])
            fit_of = fit[np.searchsorted(self._candidates, best)]
            if states is None or totals is None:
                totals, back = fit_of, np.full(len(best), -1)
            else:
                through = totals[:, None] + self._step_cost(states, best)
                back = np.argmin(through, axis=0)
                totals = through[back, np.arange(len(best))] + fit_of
            steps.append((best, back))
            states = best
        path: list[int] = []
        if totals is None:
            return path
        at = int(np.argmin(totals))
        for candidates, back in reversed(steps):
            path.append(int(candidates[at]))
            at = int(back[at])
        path.reverse()
        if path:
            self.previous = path[-1]
        return path
