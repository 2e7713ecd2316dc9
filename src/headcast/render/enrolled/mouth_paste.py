"""Putting an atlas mouth onto a base frame: moved from the common mouth frame onto the base
frame's head, blended in over the lower face with a feathered seam, its colour matched."""

from __future__ import annotations

import cv2
import numpy as np

from headcast.enrol.mouth_frame import compose
from headcast.render.enrolled import tunables as T


def paste_mouth(
    base: np.ndarray,
    crop: np.ndarray,
    crop_to_base: np.ndarray,
    mouth_outline: np.ndarray,
    base_outline: np.ndarray,
    iod_px: float,
    colour_shift: np.ndarray,
) -> np.ndarray:
    """``base`` with ``crop`` blended in. ``crop_to_base`` maps crop pixels to base pixels;
    the blend covers both lower-face outlines (the mouth's, the base's) in base pixels, so
    that neither chin shows twice. ``colour_shift`` (RGB levels) brings the mouth's skin to
    the base frame's."""
    height, width = base.shape[:2]
    feather = max(T.FEATHER_IOD * iod_px, 1.0)
    ch, cw = crop.shape[:2]
    corners = np.array([[0, 0], [cw, 0], [0, ch], [cw, ch]], np.float64)
    placed = corners @ crop_to_base[:, :2].T + crop_to_base[:, 2]
    x0, y0 = np.maximum(np.floor(placed.min(0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(placed.max(0)).astype(int), (width, height))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return base
    to_roi = compose(np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0]]), crop_to_base)
    size = (int(x1 - x0), int(y1 - y0))
    mouth = cv2.warpAffine(
        crop, to_roi, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )

    mask = np.zeros((size[1], size[0]), np.uint8)
    for outline in (mouth_outline, base_outline):
        hull = cv2.convexHull(np.round(outline - (x0, y0)).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, (255,))
    # The seam stays inside what the crop covers, at least a feather's width in.
    margin = int(np.ceil(2.5 * feather))
    inset = margin / max(float(np.sqrt(abs(np.linalg.det(to_roi[:, :2])))), 1e-6)
    inner = np.array(
        [[inset, inset], [cw - inset, inset], [cw - inset, ch - inset], [inset, ch - inset]]
    )
    inside = np.zeros_like(mask)
    if inset < min(cw, ch) / 2:
        box = inner @ to_roi[:, :2].T + to_roi[:, 2]
        cv2.fillConvexPoly(inside, np.round(box).astype(np.int32), (255,))
    grown = cv2.dilate(mask, np.ones((margin + 1, margin + 1), np.uint8))
    mask = np.minimum(grown, inside).astype(np.uint8)
    # A stack blur: a Gaussian's look at a box blur's cost (its kernel spans about 2.5 sd).
    kernel = 2 * int(np.ceil(1.25 * feather)) + 1
    alpha = cv2.stackBlur(mask, (kernel, kernel)).astype(np.float32) * np.float32(1.0 / 255.0)

    shift = (*(float(v) for v in colour_shift), 0.0)
    mouth = cv2.add(mouth, np.asarray(shift, np.float64))  # a scalar, saturating in 8 bits
    out = base.copy()
    out[y0:y1, x0:x1] = cv2.blendLinear(mouth, base[y0:y1, x0:x1], alpha, 1.0 - alpha)
    return out
