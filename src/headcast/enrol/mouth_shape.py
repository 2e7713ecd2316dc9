"""What a mouth looks like, as numbers: opening, width, rounding, lip press, teeth and tongue.

Lengths are in inter-ocular distances, so frames of one clip compare whatever the head's
distance to the camera.
"""

from __future__ import annotations

import cv2
import numpy as np

from headcast.enrol import tunables as T
from headcast.face import regions

SHAPE_NAMES = ("opening", "width", "rounding", "press", "teeth", "tongue")
_MID_PAIRS = ((13, 14), (82, 87), (312, 317))


def shape_of(landmarks: np.ndarray) -> np.ndarray:
    """(n, 478, ≥2) landmarks → (n, 4): opening, width, rounding, press (pixels not looked at)."""
    xy = landmarks[..., :2].astype(np.float32)
    iod = np.linalg.norm(xy[:, 33] - xy[:, 263], axis=-1)
    iod = np.maximum(iod, 1e-6)
    opening = np.mean([np.linalg.norm(xy[:, a] - xy[:, b], axis=-1) for a, b in _MID_PAIRS], 0)
    width = np.linalg.norm(xy[:, 61] - xy[:, 291], axis=-1)
    outer_height = np.linalg.norm(xy[:, 0] - xy[:, 17], axis=-1)
    lips = np.linalg.norm(xy[:, 0] - xy[:, 13], axis=-1) + np.linalg.norm(
        xy[:, 14] - xy[:, 17], axis=-1
    )
    return np.stack(
        [opening / iod, width / iod, outer_height / np.maximum(width, 1e-6), lips / iod], axis=1
    ).astype(np.float32)


def inside_of_mouth(crop: np.ndarray, inner_lips: np.ndarray) -> tuple[float, float]:
    """Shares of the inner-mouth area showing teeth and tongue; ``inner_lips`` is the inner
    lip loop in the crop's pixels."""
    mask = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(inner_lips).astype(np.int32)], (1,))
    area = int(mask.sum())
    if area < 4:
        return 0.0, 0.0
    hsv = cv2.cvtColor(crop, cv2.COLOR_RGB2HSV).astype(np.float32)
    inside = mask.astype(bool)
    hue, sat, val = hsv[..., 0][inside], hsv[..., 1][inside] / 255.0, hsv[..., 2][inside] / 255.0
    teeth = (val >= T.TEETH_MIN_VALUE) & (sat <= T.TEETH_MAX_SATURATION)
    # OpenCV's hue runs 0–180: reds sit at both ends.
    red = (hue <= 10) | (hue >= 165)
    tongue = red & (sat > T.TEETH_MAX_SATURATION) & (val > 0.3) & ~teeth
    return float(teeth.mean()), float(tongue.mean())


def skin_colour(crop: np.ndarray, lower_face: np.ndarray, lips: np.ndarray) -> np.ndarray:
    """Mean RGB of the lower face's skin in a crop: inside its outline, outside the lips
    (both in the crop's pixels, the lips' outline widened by a quarter of its height)."""
    face = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillConvexPoly(face, cv2.convexHull(np.round(lower_face).astype(np.int32)), (1,))
    centre = lips.mean(0)
    wide = centre + (lips - centre) * 1.25
    cv2.fillConvexPoly(face, cv2.convexHull(np.round(wide).astype(np.int32)), (0,))
    inside = face.astype(bool)
    if inside.sum() < 16:
        return crop.reshape(-1, 3).mean(0).astype(np.float32)
    return crop[inside].mean(0).astype(np.float32)


INNER_LIP_LOOP = regions.INNER_LIP_LOOP
OUTER_LIP_LOOP = regions.OUTER_LIP_LOOP
