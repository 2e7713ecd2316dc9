"""The photo's eye whites: its own reference white, under its own light.

Whatever lights the face (warm lamplight, a yellowed varnish, a cold flash) tints the sclera
as it would tint teeth, so the whites' colour tells what white looks like in this picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from headcast.face import regions
from headcast.face.gaze import iris_radius_px

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)  # Rec. 601, for RGB
_EYES = ((regions.RIGHT_EYE_LOOP, regions.RIGHT_IRIS), (regions.LEFT_EYE_LOOP, regions.LEFT_IRIS))
# Inside an eye opening and outside its iris, the lightest share is the white; the rest is
# the lids' shadow, lashes and the pink inner corner.
WHITES_SHARE = 0.4
LIT_PERCENTILE = 90  # of the whites' luma: their lit part, short of the odd catchlight
IRIS_MARGIN_PX = 1.0  # the iris's soft rim is left out with it
SATURATED_LEVEL = 250  # clipped pixels (glare on glasses, catchlights) say nothing of colour
MIN_WHITE_PIXELS = 12  # over both eyes; fewer is a shut, tiny or hidden eye


@dataclass(frozen=True)
class EyeWhites:
    """Colour and brightness of the whites of both eyes in the photo."""

    rgb: np.ndarray  # (3,) float32 median colour of the whites
    lit_luma: float  # luma (0-255) of their lit part
    pixels: int  # how many pixels were read


def sample_eye_whites(image: np.ndarray, landmarks: np.ndarray) -> EyeWhites | None:
    """The eye whites of ``image`` (RGB uint8) with its 478 landmarks, or None where the eyes
    show too little white to tell (shut, small, hidden by glare)."""
    h, w = image.shape[:2]
    samples = []
    for loop, iris in _EYES:
        opening = regions.loop_points(landmarks, loop)
        x0, y0 = np.clip(np.floor(opening.min(0)).astype(int) - 1, 0, [w, h])
        x1, y1 = np.clip(np.ceil(opening.max(0)).astype(int) + 2, 0, [w, h])
        if x1 - x0 < 3 or y1 - y0 < 3:
            continue
        outline = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(outline, [np.round(opening - [x0, y0]).astype(np.int32)], (1,))
        mask = cv2.erode(outline, np.ones((3, 3), np.uint8))  # off the lid edges
        centre = landmarks[iris[0], :2] - [x0, y0]
        radius = iris_radius_px(landmarks, iris) + IRIS_MARGIN_PX
        cv2.circle(mask, tuple(int(v) for v in np.round(centre)), int(math.ceil(radius)), (0,), -1)
        pixels = image[y0:y1, x0:x1][mask > 0]
        samples.append(pixels[pixels.max(axis=1) < SATURATED_LEVEL])
    if not samples:
        return None
    pixels = np.concatenate(samples).astype(np.float32)
    if len(pixels) * WHITES_SHARE < MIN_WHITE_PIXELS:
        return None
    luma = pixels @ LUMA_WEIGHTS
    whites = luma >= np.quantile(luma, 1.0 - WHITES_SHARE)
    return EyeWhites(
        rgb=np.median(pixels[whites], axis=0).astype(np.float32),
        lit_luma=float(np.percentile(luma[whites], LIT_PERCENTILE)),
        pixels=int(whites.sum()),
    )
