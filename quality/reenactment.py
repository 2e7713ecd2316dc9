"""How a render of a person compares with real footage of them: head motion, blinks, identity
and mouth opening, each read off dlib's landmarks and embeddings of both videos.

Head pose comes as proxies from rigid points only (eye centres and the nose tip), so speech
moving the jaw does not read as head motion: roll is the eye line's angle; yaw and pitch are
the nose tip's offset from the eyes' midpoint, in the face's own axes, over the eye distance;
translation is the eyes' midpoint in eye distances (the median eye distance of the video, so
a zoom is not counted twice); scale is the eye distance over its median.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from quality.judge import LEFT_EYE, RIGHT_EYE, FaceMeasure
from quality.lipsync import apertures_of

# A blink: the eye aspect ratio under this share of the video's median (open) EAR, in runs
# merged across gaps of up to BLINK_MERGE_GAP_FRAMES and no longer than BLINK_MAX_S (longer
# is a squint or a look down).
BLINK_EAR_SHARE = 0.75
BLINK_MERGE_GAP_FRAMES = 1
BLINK_MAX_S = 0.6
NOSE_TIP = 30


@dataclass(frozen=True)
class HeadPose:
    """Head pose proxies of one frame (see the module's docstring)."""

    roll_deg: float
    yaw: float
    pitch: float
    x: float  # eye midpoint, pixels (divide by the video's median eye distance)
    y: float
    eye_distance_px: float


def head_pose(landmarks: np.ndarray) -> HeadPose:
    """The pose proxies of a 68-point face."""
    points = np.asarray(landmarks, dtype=np.float64)
    right = points[list(RIGHT_EYE)].mean(axis=0)
    left = points[list(LEFT_EYE)].mean(axis=0)
    eye_line = left - right
    distance = max(float(np.linalg.norm(eye_line)), 1e-6)
    roll = math.atan2(eye_line[1], eye_line[0])
    middle = (left + right) / 2.0
    nose = points[NOSE_TIP] - middle
    c, s = math.cos(-roll), math.sin(-roll)
    along, down = c * nose[0] - s * nose[1], s * nose[0] + c * nose[1]
    return HeadPose(
        roll_deg=math.degrees(roll),
        yaw=along / distance,
        pitch=down / distance,
        x=float(middle[0]),
        y=float(middle[1]),
        eye_distance_px=distance,
    )


@dataclass(frozen=True)
class HeadMotion:
    """Standard deviations of the pose proxies over a video (frames without a face left out)."""

    roll_deg: float
    yaw: float
    pitch: float
    translation: float  # of the eye midpoint, in median eye distances (x and y together)
    scale: float  # of the eye distance over its median

    def ratios(self, real: HeadMotion) -> dict[str, float]:
        """Each figure of this video over the real one's (target 0.5–2)."""
        return {name: _ratio(value, getattr(real, name)) for name, value in asdict(self).items()}


def head_motion(measures: Sequence[FaceMeasure | None]) -> HeadMotion:
    """The head motion of a measured video."""
    poses = [head_pose(m.landmarks) for m in measures if m is not None]
    if len(poses) < 2:
        return HeadMotion(math.nan, math.nan, math.nan, math.nan, math.nan)
    distance = float(np.median([p.eye_distance_px for p in poses]))
    xs = np.array([p.x for p in poses]) / distance
    ys = np.array([p.y for p in poses]) / distance
    return HeadMotion(
        roll_deg=float(np.std([p.roll_deg for p in poses])),
        yaw=float(np.std([p.yaw for p in poses])),
        pitch=float(np.std([p.pitch for p in poses])),
        translation=float(math.hypot(xs.std(), ys.std())),
        scale=float(np.std([p.eye_distance_px / distance for p in poses])),
    )


@dataclass(frozen=True)
class Blinks:
    """Blinks seen in a video by the eye aspect ratio."""

    count: int
    per_minute: float
    depth: float  # median over blinks of their lowest EAR over the open EAR (NaN without one)
    starts: tuple[int, ...]  # first frame of each blink
    deepest: float = math.nan  # the lowest EAR of any blink over the open EAR


def blinks(
    measures: Sequence[FaceMeasure | None], fps: float, ear_share: float = BLINK_EAR_SHARE
) -> Blinks:
    """Find the blinks of a measured video: runs of the eye aspect ratio under ``ear_share``
    of its median."""
    ears = np.array([m.ear if m is not None else np.nan for m in measures], dtype=np.float64)
    minutes = len(ears) / fps / 60.0 if fps > 0 else math.nan
    if not np.isfinite(ears).any():
        return Blinks(0, math.nan, math.nan, ())
    open_ear = float(np.nanmedian(ears))
    closed = np.nan_to_num(ears, nan=open_ear) < ear_share * open_ear
    runs = _runs(closed, BLINK_MERGE_GAP_FRAMES)
    runs = [(a, b) for a, b in runs if b - a <= BLINK_MAX_S * fps]
    depths = [float(np.nanmin(ears[a:b]) / open_ear) for a, b in runs]
    return Blinks(
        count=len(runs),
        per_minute=len(runs) / minutes if minutes > 0 else math.nan,
        depth=float(np.median(depths)) if depths else math.nan,
        starts=tuple(a for a, _ in runs),
        deepest=min(depths) if depths else math.nan,
    )


def _runs(flags: np.ndarray, merge_gap: int) -> list[tuple[int, int]]:
    """[start, stop) of the True runs, joining runs separated by at most ``merge_gap`` frames."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, flag in enumerate(flags):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(flags)))
    merged: list[tuple[int, int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] <= merge_gap:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def identity_spread(embeddings: Sequence[np.ndarray], centre: np.ndarray) -> float:
    """Median distance of the embeddings to ``centre`` (the mean real embedding)."""
    if not embeddings:
        return math.nan
    return float(np.median([np.linalg.norm(e - centre) for e in embeddings]))


def aperture_correlation(
    render: Sequence[FaceMeasure | None] | np.ndarray,
    real: Sequence[FaceMeasure | None] | np.ndarray,
) -> float:
    """Pearson correlation of two videos' mouth apertures, frame by frame (the shorter length;
    frames without a face on either side left out)."""
    a, b = apertures_of(render), apertures_of(real)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3 or a[keep].std() == 0 or b[keep].std() == 0:
        return math.nan
    return float(np.corrcoef(a[keep], b[keep])[0, 1])


def _ratio(value: float, reference: float) -> float:
    return value / reference if reference > 0 else math.nan


# The nose and the eye corners move with the head, not with speech, blinks or brows.
RIGID_POINTS = (*range(27, 36), 36, 39, 42, 45)


def largest_jumps(
    measures: Sequence[FaceMeasure | None], fps: float, count: int, min_apart_s: float = 1.0
) -> list[int]:
    """The frames where the head moves most from the frame before (rigid points, in eye
    distances), at most ``count``, at least ``min_apart_s`` apart, in time order: where a
    seam or a jump between stretches of footage would show."""
    steps = np.zeros(len(measures))
    for i in range(1, len(measures)):
        before, now = measures[i - 1], measures[i]
        if before is None or now is None:
            continue
        moved = now.landmarks[list(RIGID_POINTS)] - before.landmarks[list(RIGID_POINTS)]
        steps[i] = float(np.linalg.norm(moved, axis=1).mean()) / now.inter_ocular
    chosen: list[int] = []
    for i in np.argsort(-steps, kind="stable"):
        if len(chosen) == count or steps[i] <= 0:
            break
        if all(abs(int(i) - j) >= min_apart_s * fps for j in chosen):
            chosen.append(int(i))
    return sorted(chosen)
