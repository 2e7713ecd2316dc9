"""Gaze: the irises move inside the eye openings, under the lids.

A mesh warp cannot move an iris without dragging the lids along, so the eyes are repainted:
per avatar, each iris is lifted out of the photo (its hidden part completed by symmetry) and
the eye is filled in behind it; per frame, the filled-in eye follows the warp and the iris is
laid back on at its new place, clipped by the lids' current outline.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from headcast.face import regions
from headcast.face.gaze import (
    GAZE_VERTICAL_REACH_TO_EYE_WIDTH,
    horizontal_reach_px,
    iris_radius_px,
)
from headcast.render.warp import tunables as T
from headcast.render.warp.masks import polygon_coverage

# (opening loop from outer corner along the upper lid and back along the lower one, iris)
EYES = (
    (
        (
            regions.RIGHT_EYE_CORNERS[0],
            *regions.RIGHT_EYE_UPPER,
            regions.RIGHT_EYE_CORNERS[1],
            *reversed(regions.RIGHT_EYE_LOWER),
        ),
        regions.RIGHT_IRIS,
    ),
    (
        (
            regions.LEFT_EYE_CORNERS[0],
            *regions.LEFT_EYE_UPPER,
            regions.LEFT_EYE_CORNERS[1],
            *reversed(regions.LEFT_EYE_LOWER),
        ),
        regions.LEFT_IRIS,
    ),
)


@dataclass(frozen=True)
class Iris:
    """One iris lifted out of the photo, as a premultiplied-free RGB patch and its coverage."""

    rgb: np.ndarray  # (s, s, 3) float32
    alpha: np.ndarray  # (s, s) float32
    centre_in_patch: float  # the iris centre's coordinate inside the patch (both axes)
    radius_px: float


@dataclass(frozen=True)
class EyesLook:
    """Per avatar: the photo with both irises removed, and the irises themselves."""

    without_irises: np.ndarray  # (H, W, 3) uint8
    irises: tuple[Iris, Iris]

    @classmethod
    def sample(cls, image: np.ndarray, landmarks: np.ndarray) -> EyesLook:
        without = image.copy()
        irises = []
        for loop, iris_idx in EYES:
            opening = regions.loop_points(landmarks, loop)
            centre = landmarks[iris_idx[0], :2].astype(np.float64)
            radius = iris_radius_px(landmarks, iris_idx)
            irises.append(_lift_iris(image, opening, centre, radius))
            _fill_behind_iris(without, opening, centre, radius)
        return cls(without_irises=without, irises=(irises[0], irises[1]))


def _lift_iris(image: np.ndarray, opening: np.ndarray, centre: np.ndarray, radius: float) -> Iris:
    half = int(np.ceil(radius)) + 2
    size = 2 * half + 1
    # The patch's middle pixel is the iris centre, to the sub-pixel.
    patch = cv2.getRectSubPix(
        image.astype(np.float32), (size, size), (float(centre[0]), float(centre[1]))
    )
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dist = np.hypot(xx - half, yy - half)
    disc = np.clip(radius + 0.5 - dist, 0.0, 1.0)
    # Eroded by a pixel so the lid's edge does not travel with the iris.
    visible = polygon_coverage(opening - centre + half, (0, 0, size, size)) > 0.5
    visible = cv2.erode(visible.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    # The lids hide part of the iris in most photos: complete it from the visible side
    # mirrored through the centre line, else from the visible iris's mean colour.
    hidden = (disc > 0) & ~visible
    mirrored_rows = np.clip(np.round(2 * half - yy).astype(int), 0, size - 1)
    mirrored = patch[mirrored_rows, xx.astype(int)]
    mirror_ok = visible[mirrored_rows, xx.astype(int)]
    seen = patch[visible & (disc > 0.5)]
    mean = seen.mean(axis=0) if len(seen) else patch.reshape(-1, 3).mean(axis=0)
    fill = np.where(mirror_ok[:, :, None], mirrored, mean)
    rgb = np.where(hidden[:, :, None], fill, patch).astype(np.float32)
    return Iris(rgb=rgb, alpha=disc.astype(np.float32), centre_in_patch=float(half), radius_px=radius)


def _fill_behind_iris(
    image: np.ndarray, opening: np.ndarray, centre: np.ndarray, radius: float
) -> None:
    """Paint the eye's whites over the iris, in place, inside the opening only.

    Each row is bridged from the white just left of the iris to the white just right of it,
    which keeps the shading the lids cast; rows without white on a side take the eye's
    typical white.
    """
    h, w = image.shape[:2]
    reach = radius + T.IRIS_FILL_MARGIN_PX
    x0, y0 = np.floor(opening.min(0)).astype(int) - 2
    x1, y1 = np.ceil(opening.max(0)).astype(int) + 3
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    box = image[y0:y1, x0:x1]
    inside = polygon_coverage(opening, (x0, y0, x1, y1)) > 0.5
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    in_disc = np.hypot(xx - centre[0], yy - centre[1]) <= reach
    whites = box[inside & ~in_disc].astype(np.float32)
    if len(whites) == 0:
        return
    light = whites.mean(axis=1)
    typical = np.median(whites[light >= np.median(light)], axis=0)
    filled = box.astype(np.float32)
    cols = np.arange(x0, x1)
    for r in range(y1 - y0):
        span = in_disc[r] & inside[r]
        if not span.any():
            continue
        xs = cols[span] - x0
        whites_in_row = np.flatnonzero(inside[r] & ~in_disc[r])
        left = whites_in_row[whites_in_row < xs[0]]
        right = whites_in_row[whites_in_row > xs[-1]]
        lc = filled[r, left[-1]] if len(left) else typical
        rc = filled[r, right[0]] if len(right) else typical
        t = ((xs - xs[0] + 1) / (len(xs) + 1))[:, None]
        filled[r, xs] = lc * (1 - t) + rc * t
    # The lids shade the white near them; the bridged rows are evened out a little.
    to_lid = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 3)
    shade = 1.0 - T.LID_SHADOW * np.clip(1.0 - to_lid / max(0.35 * radius, 1.0), 0.0, 1.0)
    smooth = cv2.GaussianBlur(filled, (0, 0), 0.8) * shade[:, :, None]
    paint = inside & in_disc
    box[paint] = np.clip(smooth[paint] + 0.5, 0, 255).astype(np.uint8)


def draw_eyes(
    frame: np.ndarray,
    landmarks_now: np.ndarray,
    map_x: np.ndarray,
    map_y: np.ndarray,
    region_origin: tuple[int, int],
    look: EyesLook,
    gaze_x: float,
    gaze_y: float,
) -> None:
    """Repaint both eyes in ``frame`` (in place) with the irises turned by the gaze."""
    rx0, ry0 = region_origin
    mh, mw = map_x.shape
    for (loop, iris_idx), iris in zip(EYES, look.irises, strict=True):
        opening = regions.loop_points(landmarks_now, loop)
        corners = opening[[0, len(loop) // 2]]
        eye_width = float(np.linalg.norm(corners[1] - corners[0]))
        centre = landmarks_now[iris_idx[0], :2] + [
            gaze_x * horizontal_reach_px(eye_width, iris.radius_px),
            gaze_y * GAZE_VERTICAL_REACH_TO_EYE_WIDTH * eye_width,
        ]
        x0, y0 = np.floor(opening.min(0)).astype(int) - 1
        x1, y1 = np.ceil(opening.max(0)).astype(int) + 2
        x0, y0 = max(x0, rx0), max(y0, ry0)
        x1, y1 = min(x1, rx0 + mw), min(y1, ry0 + mh)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        inside = polygon_coverage(opening, (x0, y0, x1, y1))
        if float(inside.max()) <= 0.0:
            continue  # eye shut
        sub_x = map_x[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0]
        sub_y = map_y[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0]
        behind = cv2.remap(
            look.without_irises, sub_x, sub_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        ).astype(np.float32)
        place = np.array(
            [
                [1, 0, centre[0] - x0 - iris.centre_in_patch],
                [0, 1, centre[1] - y0 - iris.centre_in_patch],
            ],
            np.float64,
        )
        size = (x1 - x0, y1 - y0)
        iris_rgb = cv2.warpAffine(iris.rgb, place, size, flags=cv2.INTER_LINEAR)
        iris_alpha = cv2.warpAffine(iris.alpha, place, size, flags=cv2.INTER_LINEAR)[:, :, None]
        eye = behind * (1 - iris_alpha) + iris_rgb * iris_alpha
        a = inside[:, :, None]
        target = frame[y0:y1, x0:x1].astype(np.float32)
        frame[y0:y1, x0:x1] = np.clip(target * (1 - a) + eye * a + 0.5, 0, 255).astype(np.uint8)
