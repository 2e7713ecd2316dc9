"""The base: the person's own head motion and blinks, as a graph of joins between frames
that look and move alike, so that stretches of the clip can follow one another for ever.

A join from frame ``i`` to frame ``j`` means "after ``i``, show ``j`` instead of ``i + 1``".
It is kept when ``j`` looks like ``i + 1`` (pose, place, eyes) and moves as it does; the
renderer crossfades across it. Costs are in units of what a crossfade of a few frames hides
(``JOIN_TOLERANCES``): a join of cost 1 differs by about that much in every feature at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headcast.enrol import tunables as T
from headcast.enrol.face_track import ANCHORS, Pose
from headcast.face import regions

BLOCK_ROWS = 512  # joins are searched this many frames at a time (memory stays bounded)
# How far apart two frames may be, in each feature, and still be joined unseen: yaw, pitch
# and roll (degrees), the face's place across and down and its size (inter-ocular
# distances), each eye's opening (share of the inter-ocular distance; tight, so that a join
# never cuts into a blink).
JOIN_TOLERANCES = (2.0, 2.0, 1.5, 0.04, 0.04, 0.02, 0.015, 0.015)


@dataclass(frozen=True)
class BaseGraph:
    features: np.ndarray  # (n, k) float32, per frame, in units of a typical frame step
    join_to: np.ndarray  # (n, JOINS_PER_FRAME) int32, -1 where none
    join_cost: np.ndarray  # (n, JOINS_PER_FRAME) float32


def base_features(landmarks: np.ndarray, pose: Pose) -> np.ndarray:
    """Per-frame pose, place, size and eye openness, each in units of what a crossfade of a
    few frames hides (``JOIN_TOLERANCES``)."""
    xy = landmarks[..., :2]
    anchors = xy[:, list(ANCHORS)]
    centre = anchors.mean(1)
    iod = np.linalg.norm(xy[:, 33] - xy[:, 263], axis=-1)
    unit = float(np.median(iod[iod > 0])) if (iod > 0).any() else 1.0
    eyes = np.stack(
        [
            _eye_open(xy, regions.RIGHT_EYE_UPPER, regions.RIGHT_EYE_LOWER, iod),
            _eye_open(xy, regions.LEFT_EYE_UPPER, regions.LEFT_EYE_LOWER, iod),
        ],
        1,
    )
    raw = np.column_stack(
        [pose.yaw_deg, pose.pitch_deg, pose.roll_deg, centre / unit, iod / unit, eyes]
    ).astype(np.float32)
    return (raw / np.asarray(JOIN_TOLERANCES, np.float32)).astype(np.float32)


def _eye_open(
    xy: np.ndarray, upper: tuple[int, ...], lower: tuple[int, ...], iod: np.ndarray
) -> np.ndarray:
    gap = np.linalg.norm(xy[:, list(upper[2:5])] - xy[:, list(lower[2:5])], axis=-1).mean(1)
    return gap / np.maximum(iod, 1e-6)


def build_base_graph(
    features: np.ndarray, usable: np.ndarray, follows: np.ndarray, fps: float
) -> BaseGraph:
    """The best joins out of every usable frame whose successor is usable and follows it;
    ``follows`` says which frames carry on from the one before (no cut between)."""
    n = len(features)
    k = T.JOINS_PER_FRAME
    join_to = np.full((n, k), -1, np.int32)
    join_cost = np.full((n, k), np.inf, np.float32)
    velocity = np.zeros_like(features)
    velocity[1:] = features[1:] - features[:-1]
    # A frame can be landed on when it and the one before are usable (its motion is known).
    landable = usable & follows
    landable[1:] &= usable[:-1]
    landable[0] = False
    targets = np.flatnonzero(landable)
    sources = np.flatnonzero(usable[:-1] & landable[1:]) if n > 1 else np.zeros(0, int)
    if len(targets) == 0 or len(sources) == 0:
        return BaseGraph(features, join_to, join_cost)
    min_gap = max(int(T.JOIN_MIN_DISTANCE_S * fps), 2)
    norm = float(np.sqrt(features.shape[1]))  # a typical step in every feature at once
    t_feat, t_vel = features[targets], velocity[targets]
    for lo in range(0, len(sources), BLOCK_ROWS):
        rows = sources[lo : lo + BLOCK_ROWS]
        nxt = features[rows + 1]
        cost = _pairwise(nxt, t_feat) + 0.5 * _pairwise(velocity[rows + 1], t_vel)
        cost /= norm
        near = np.abs(targets[None, :] - (rows[:, None] + 1)) < min_gap
        cost[near] = np.inf
        take = min(k, cost.shape[1])
        best = np.argpartition(cost, take - 1, axis=1)[:, :take]
        best_cost = np.take_along_axis(cost, best, axis=1)
        order = np.argsort(best_cost, axis=1)
        best, best_cost = (
            np.take_along_axis(best, order, 1),
            np.take_along_axis(best_cost, order, 1),
        )
        ok = best_cost <= T.JOIN_MAX_COST
        join_to[rows, :take] = np.where(ok, targets[best], -1)
        join_cost[rows, :take] = np.where(ok, best_cost, np.inf)
    return BaseGraph(features, join_to, join_cost)


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of ``a`` and of ``b``."""
    sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0))
