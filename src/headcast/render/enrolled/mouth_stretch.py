"""Opening an atlas mouth further than it was filmed: where the clip holds no mouth as open
as the motion asks, the nearest one is warped, its lower lip and chin moved down and the
inside of the mouth stretched between the lips (the photo engine's way, on a real mouth)."""

from __future__ import annotations

import cv2
import numpy as np

from headcast.render.enrolled import tunables as T


def stretch_opening(
    crop: np.ndarray,
    outline: np.ndarray,
    lips: tuple[float, float],
    corners_x: tuple[float, float],
    chin_y: float,
    drop_px: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``crop`` with its jaw dropped by ``drop_px`` below the lips' parting, and the lower-face
    ``outline`` (crop pixels) moved with it. ``lips`` are the inner upper and lower lip's
    heights at the middle, ``corners_x`` the mouth corners' places across."""
    height, width = crop.shape[:2]
    upper, lower = lips
    gap = max(lower - upper, 1.0)
    reach = max(corners_x[1] - corners_x[0], 1.0) * T.STRETCH_SIDE_REACH

    def drop(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        # Down: nothing above the upper lip, all of it from the lower lip to the chin, fading
        # out below the chin. Across: all of it between the corners, fading out beyond.
        down = np.clip((y - upper) / gap, 0.0, 1.0)
        below = np.clip((y - chin_y) / reach, 0.0, 1.0)
        down = down * (1.0 - below * below * (3 - 2 * below))
        outside = np.maximum(corners_x[0] - x, 0.0) + np.maximum(x - corners_x[1], 0.0)
        across = np.clip(1.0 - outside / reach, 0.0, 1.0)
        return drop_px * down * across * across * (3 - 2 * across)

    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    # One fixed-point step of the backward map: a pixel shows what lies ``drop`` above it.
    source_y = ys - drop(xs, ys - drop(xs, ys))
    stretched = cv2.remap(
        crop, xs, source_y.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    moved = outline.copy()
    moved[:, 1] += drop(outline[:, 0], outline[:, 1])
    return stretched, moved
