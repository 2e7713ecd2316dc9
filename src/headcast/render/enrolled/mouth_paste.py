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
    covered = cv2.warpAffine(
        np.full((ch, cw), 255, np.uint8), to_roi, size, flags=cv2.INTER_NEAREST
    )

    mask = np.zeros((size[1], size[0]), np.uint8)
    for outline in (mouth_outline, base_outline):
        hull = cv2.convexHull(np.round(outline - (x0, y0)).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, (255,))
    # The seam stays inside what the crop covers, at least a feather's width in.
    margin = int(np.ceil(2.5 * feather))
    inside = cv2.erode(covered, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    grown = cv2.dilate(mask, np.ones((margin + 1, margin + 1), np.uint8))
    mask = np.minimum(grown, inside).astype(np.uint8)
    alpha = cv2.GaussianBlur(mask, (0, 0), feather).astype(np.float32) * (1.0 / 255.0)

    region = base[y0:y1, x0:x1].astype(np.float32)
    mouth_f = mouth.astype(np.float32)
    mouth_f += colour_shift.astype(np.float32)
    blended = region + alpha[..., None] * (mouth_f - region)
    out = base.copy()
    out[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out
