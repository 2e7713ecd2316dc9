"""Gaze: the irises move inside the eye openings, under the lids.

A mesh warp cannot move an iris without dragging the lids along, so the eyes are repainted:
per avatar, each iris is lifted out of the photo (its hidden part completed by symmetry) and
the eye is filled in behind it; per frame, the filled-in eye follows the warp and the iris is
laid back on at its new place, clipped by the lids' current outline.
"""

from __future__ import annotations

import math
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
from headcast.render.warp.outlines import blend_into, extent, line_y, polygon_coverage

# (eye opening, iris) for each eye
EYES = ((regions.RIGHT_EYE_LOOP, regions.RIGHT_IRIS), (regions.LEFT_EYE_LOOP, regions.LEFT_IRIS))


@dataclass(frozen=True)
class Iris:
    """One iris lifted out of the photo, as a premultiplied-free RGB patch and its coverage."""

    rgba: np.ndarray  # (s, s, 4) float32: colour, then coverage in [0, 1]
    centre_in_patch: float  # the iris centre's coordinate inside the patch (both axes)
    radius_px: float


@dataclass(frozen=True)
class EyesLook:
    """Per avatar: the photo with both irises removed, the irises, and the lids' colours."""

    without_irises: np.ndarray  # (H, W, 3) uint8
    irises: tuple[Iris, Iris]
    lid_rgb: tuple[np.ndarray, np.ndarray]  # (3,) float32 skin of each closed lid

    @classmethod
    def sample(cls, image: np.ndarray, landmarks: np.ndarray) -> EyesLook:
        without = image.copy()
        irises, lids = [], []
        for loop, iris_idx in EYES:
            opening = regions.loop_points(landmarks, loop)
            lids.append(_lid_colour(image, opening))
            centre = landmarks[iris_idx[0], :2].astype(np.float64)
            radius = iris_radius_px(landmarks, iris_idx)
            irises.append(_lift_iris(image, opening, centre, radius))
            _fill_behind_iris(without, opening, centre, radius)
        return cls(
            without_irises=without,
            irises=(irises[0], irises[1]),
            lid_rgb=(lids[0], lids[1]),
        )


def _lid_colour(image: np.ndarray, opening: np.ndarray) -> np.ndarray:
    """The colour of a closed lid's skin, ``opening`` being the eye's outline."""
    h, w = image.shape[:2]
    half = len(opening) // 2  # the inner corner
    width = float(np.linalg.norm(opening[half] - opening[0]))
    upper = opening[: half + 1]
    lower = np.concatenate([opening[:1], opening[half:][::-1], opening[half : half + 1]])
    # A closed lid is smooth skin, lighter than the crease above the open eye: take the
    # skin on both sides of the eye, away from lashes, crease and the shadow under the eye.
    down = np.array([0.0, width], np.float32)
    bands = (
        np.concatenate([upper - 0.15 * down, (upper - 0.3 * down)[::-1]]),
        np.concatenate([lower + 0.12 * down, (lower + 0.25 * down)[::-1]]),
    )
    medians = []
    for band in bands:
        x0, y0 = np.floor(band.min(0)).astype(int)
        x1, y1 = np.ceil(band.max(0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        inside = polygon_coverage(band, (x0, y0, x1, y1)) > 0.5
        skin = image[y0:y1, x0:x1][inside].astype(np.float32)
        if len(skin):
            medians.append(np.median(skin, axis=0))
    lid = np.mean(medians, axis=0) if medians else np.array([180, 140, 120], np.float32)
    return lid.astype(np.float32)


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
    return Iris(
        rgba=np.dstack([rgb, disc]).astype(np.float32),
        centre_in_patch=float(half),
        radius_px=radius,
    )


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
    maps: tuple[np.ndarray, np.ndarray],
    region_origin: tuple[int, int],
    look: EyesLook,
    gaze_x: float,
    gaze_y: float,
) -> None:
    """Repaint both eyes in ``frame`` (in place) with the irises turned by the gaze.

    ``maps`` is the region's backward map in cv2's fixed-point form (``cv2.convertMaps``).
    """
    rx0, ry0 = region_origin
    mh, mw = maps[1].shape
    for (loop, iris_idx), iris in zip(EYES, look.irises, strict=True):
        opening = regions.loop_points(landmarks_now, loop)
        corners = opening[[0, len(loop) // 2]]
        eye_width = float(np.linalg.norm(corners[1] - corners[0]))
        centre_x = float(landmarks_now[iris_idx[0], 0]) + gaze_x * horizontal_reach_px(
            eye_width, iris.radius_px
        )
        centre_y = float(landmarks_now[iris_idx[0], 1]) + (
            gaze_y * GAZE_VERTICAL_REACH_TO_EYE_WIDTH * eye_width
        )
        left, top, right, bottom = extent(opening)
        x0, y0 = max(math.floor(left) - 1, rx0), max(math.floor(top) - 1, ry0)
        x1, y1 = min(math.ceil(right) + 2, rx0 + mw), min(math.ceil(bottom) + 2, ry0 + mh)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        inside = polygon_coverage(opening, (x0, y0, x1, y1))
        if float(inside.max()) <= 0.0:
            continue  # eye shut
        rows, cols = slice(y0 - ry0, y1 - ry0), slice(x0 - rx0, x1 - rx0)
        behind = cv2.remap(
            look.without_irises,
            maps[0][rows, cols],
            maps[1][rows, cols],
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        ).astype(np.float32)
        place = np.array(
            [
                [1, 0, centre_x - x0 - iris.centre_in_patch],
                [0, 1, centre_y - y0 - iris.centre_in_patch],
            ],
            np.float64,
        )
        iris_rgba = cv2.warpAffine(iris.rgba, place, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR)
        eye = iris_rgba[:, :, :3] - behind
        eye *= iris_rgba[:, :, 3:]
        eye += behind
        blend_into(frame[y0:y1, x0:x1], eye, inside)


def draw_lids(
    frame: np.ndarray,
    landmarks_now: np.ndarray,
    lid_travel: np.ndarray,
    look: EyesLook,
    blink: float,
) -> None:
    """Paint closing lids as skin, in place.

    ``lid_travel`` is how far the blink moved each landmark this frame; where the lids now
    cover what was open, the warp alone would show the lid's edge and lashes stretched thin.
    """
    h, w = frame.shape[:2]
    for (loop, _), lid_rgb in zip(EYES, look.lid_rgb, strict=True):
        now = regions.loop_points(landmarks_now, loop)
        was: np.ndarray = now - lid_travel[list(loop)].astype(np.float32)
        width = float(np.linalg.norm(now[len(loop) // 2] - now[0]))
        left, top, right, bottom = extent(np.concatenate([now, was]))
        x0, y0 = max(math.floor(left) - 3, 0), max(math.floor(top) - 3, 0)
        x1, y1 = min(math.ceil(right) + 4, w), min(math.ceil(bottom) + 4, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        box = (x0, y0, x1, y1)
        # Both coverages lie in [0, 1], so their difference is at most 1.
        covered = np.maximum(polygon_coverage(was, box) - polygon_coverage(now, box), 0.0)
        covered = cv2.GaussianBlur(covered, (0, 0), T.LID_EDGE_SOFTNESS_PX)
        # Darker towards the lashes, as the lid curves away from the light.
        half = len(loop) // 2
        cols = np.arange(x0, x1, dtype=np.float32)
        lid_top = line_y(was[: half + 1], cols).astype(np.float32)
        margin = line_y(now[: half + 1], cols).astype(np.float32)
        ys = np.arange(y0, y1, dtype=np.float32)[:, None]
        below_top = ys - lid_top
        depth = np.clip(below_top / np.maximum(margin - lid_top, 1.0), 0.0, 1.0)
        # The skin's fine texture, mirrored down from above the crease.
        src = np.empty((y1 - y0, x1 - x0, 2), np.float32)
        src[:, :, 0] = cols
        src[:, :, 1] = (lid_top - T.LID_TEXTURE_SKIP_TO_EYE_WIDTH * width) - below_top
        skin = cv2.remap(  # type: ignore[call-overload]  # stubs: map2 may be None
            frame, src, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        ).astype(np.float32)
        lid = skin - cv2.GaussianBlur(skin, (0, 0), T.LID_TEXTURE_DETAIL_PX)
        # Only the skin's fine texture: a glasses frame or a brow above the crease would
        # otherwise come down onto the lid as a dark arc.
        np.clip(lid, -T.LID_TEXTURE_MAX_DETAIL, T.LID_TEXTURE_MAX_DETAIL, out=lid)
        lid += (1.0 - T.LID_MARGIN_DARKENING * depth)[:, :, None] * lid_rgb
        # Just above the lid's edge the warp already shows the photo's own lashes, moved
        # down with the lid: the painted skin gives way to them there.
        strip = max(T.LASH_STRIP_TO_EYE_WIDTH * width, 1.0)
        covered *= np.clip((margin - ys) / strip, 0.0, 1.0)
        blend_into(frame[y0:y1, x0:x1], lid, covered)
