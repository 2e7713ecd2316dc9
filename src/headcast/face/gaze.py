"""Where the eyes of a photo look, in the units of ``FaceMotion.gaze_x`` / ``gaze_y``.

Gaze ±1 horizontally puts the iris's edge at an eye corner; vertically it moves the iris by
``GAZE_VERTICAL_REACH_TO_EYE_WIDTH`` of the eye's width. Positive is the image's right / down.
"""

from __future__ import annotations

import numpy as np

from headcast.face import regions

GAZE_VERTICAL_REACH_TO_EYE_WIDTH = 0.12
# Looking straight ahead, the iris centre sits a little above the line between the corners.
NEUTRAL_IRIS_ABOVE_CORNERS_TO_EYE_WIDTH = 0.04
# Vertical offsets smaller than this are taken as the photo's eye shape, not its gaze.
VERTICAL_DEAD_ZONE = 0.35
MAX_CORRECTION = 0.8

EYE_PARTS = (
    (regions.RIGHT_EYE_CORNERS, regions.RIGHT_IRIS),
    (regions.LEFT_EYE_CORNERS, regions.LEFT_IRIS),
)


def iris_radius_px(landmarks: np.ndarray, iris: tuple[int, ...]) -> float:
    centre = landmarks[iris[0], :2]
    return float(np.mean(np.linalg.norm(landmarks[list(iris[1:]), :2] - centre, axis=1)))


def horizontal_reach_px(eye_width_px: float, iris_radius: float) -> float:
    """How far the iris centre travels from the eye's middle to gaze ±1."""
    return max(0.5 * eye_width_px - iris_radius, 1.0)


def photo_gaze(landmarks: np.ndarray) -> tuple[float, float]:
    """The photo's gaze (x, y), averaged over both eyes."""
    xs, ys = [], []
    for corners, iris in EYE_PARTS:
        a, b = landmarks[corners[0], :2], landmarks[corners[1], :2]
        width = float(np.linalg.norm(b - a))
        if width < 1.0:
            continue
        along = (b - a) / width
        across = np.array([-along[1], along[0]])
        if across[1] < 0:
            across = -across  # pointing down the image
        offset = landmarks[iris[0], :2] - 0.5 * (a + b)
        x = float(offset @ along) * (1 if along[0] > 0 else -1)
        y = float(offset @ across) + NEUTRAL_IRIS_ABOVE_CORNERS_TO_EYE_WIDTH * width
        xs.append(x / horizontal_reach_px(width, iris_radius_px(landmarks, iris)))
        ys.append(y / (GAZE_VERTICAL_REACH_TO_EYE_WIDTH * width))
    if not xs:
        return 0.0, 0.0
    return float(np.mean(xs)), float(np.mean(ys))


def gaze_correction(landmarks: np.ndarray) -> tuple[float, float]:
    """The gaze offset that re-aims the photo's irises at the camera."""
    x, y = photo_gaze(landmarks)
    y = float(np.sign(y) * max(abs(y) - VERTICAL_DEAD_ZONE, 0.0))
    return (
        float(np.clip(-x, -MAX_CORRECTION, MAX_CORRECTION)),
        float(np.clip(-y, -MAX_CORRECTION, MAX_CORRECTION)),
    )
