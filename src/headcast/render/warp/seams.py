"""Seams: the soft dark line where closed lips or closed lids meet.

Closing a smile or an eye squeezes what lay between the two edges in the photo (teeth, the
white of the eye, the iris) into a band a pixel thin, which shows as bright and dark specks
stepping along the pixel grid. A closed mouth or eye shows a soft dark line there instead, so
one is painted over the band, fading out as the edges part and the interior takes over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from headcast.face import regions
from headcast.render.warp import tunables as T
from headcast.render.warp.mouth import lip_colour
from headcast.render.warp.outlines import blend_into, line_y, unit

# (upper, lower) edges, each an index array from corner to corner.
LIP_LINES = (
    np.array(regions.UPPER_LIP_INNER_LINE),
    np.array(regions.LOWER_LIP_INNER_LINE),
)
LID_LINES = (
    (np.array(regions.RIGHT_EYE_UPPER_LINE), np.array(regions.RIGHT_EYE_LOWER_LINE)),
    (np.array(regions.LEFT_EYE_UPPER_LINE), np.array(regions.LEFT_EYE_LOWER_LINE)),
)


@dataclass(frozen=True)
class SeamLook:
    """Per avatar: the colours of the lips' seam and of each eye's lash line."""

    lip_rgb: np.ndarray  # (3,) float32
    lash_rgb: tuple[np.ndarray, np.ndarray]
    mouth_width_px: float
    eye_width_px: tuple[float, float]

    @classmethod
    def sample(cls, image: np.ndarray, landmarks: np.ndarray) -> SeamLook:
        lashes, widths = [], []
        for upper, _ in LID_LINES:
            pts = landmarks[upper, :2]
            lash = _pixels_along(image, pts)
            # The lashes are the darkest of what lies along the upper lid's edge.
            lashes.append(np.percentile(lash, T.LASH_PERCENTILE, axis=0).astype(np.float32))
            widths.append(float(np.linalg.norm(pts[-1] - pts[0])))
        return cls(
            lip_rgb=(lip_colour(image, landmarks) * T.LIP_SEAM_SHADE).astype(np.float32),
            lash_rgb=(lashes[0], lashes[1]),
            mouth_width_px=float(
                np.linalg.norm(landmarks[LIP_LINES[0][-1], :2] - landmarks[LIP_LINES[0][0], :2])
            ),
            eye_width_px=(widths[0], widths[1]),
        )


def _pixels_along(image: np.ndarray, points_xy: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    xy = np.clip(np.round(points_xy).astype(int), 0, [w - 1, h - 1])
    return image[xy[:, 1], xy[:, 0]].reshape(-1, 3).astype(np.float32)


def draw_seams(frame: np.ndarray, landmarks_now: np.ndarray, look: SeamLook) -> None:
    """Paint the lips' seam and the lash lines, in place, where the edges are (nearly) closed."""
    upper, lower = (landmarks_now[line, :2] for line in LIP_LINES)
    draw_seam(
        frame,
        upper,
        lower,
        look.lip_rgb,
        T.LIP_SEAM_HALF_WIDTH_TO_MOUTH_WIDTH * look.mouth_width_px,
        T.LIP_SEAM_CLOSED_GAP_TO_MOUTH_WIDTH * look.mouth_width_px,
        T.LIP_SEAM_OPACITY,
    )
    for (up_line, low_line), rgb, width in zip(
        LID_LINES, look.lash_rgb, look.eye_width_px, strict=True
    ):
        draw_seam(
            frame,
            landmarks_now[up_line, :2],
            landmarks_now[low_line, :2],
            rgb,
            T.LASH_LINE_HALF_WIDTH_TO_EYE_WIDTH * width,
            T.LASH_LINE_CLOSED_GAP_TO_EYE_WIDTH * width,
            T.LASH_LINE_OPACITY,
        )


def draw_seam(
    frame: np.ndarray,
    upper_xy: np.ndarray,
    lower_xy: np.ndarray,
    rgb: np.ndarray,
    half_width_px: float,
    closed_gap_px: float,
    opacity: float,
) -> None:
    """A soft line of colour ``rgb`` between two edges (corner to corner), in place.

    It is full where the edges touch and gone where they are ``closed_gap_px`` apart, and
    tapers off towards both corners; all of it fades out as the widest part of the opening
    goes from half of ``closed_gap_px`` to all of it.
    """
    # The edges' own points, paired across the opening, say how far it is open: the seam
    # fades out as a whole as it opens, so an open eye or mouth costs nothing here (its
    # corners already show where the edges meet).
    widest = float(np.max(lower_xy[1:-1, 1] - upper_xy[1:-1, 1]))
    shut = min(2.0 * (1.0 - widest / max(closed_gap_px, 1e-3)), 1.0)
    if shut <= 0.0:
        return
    h, w = frame.shape[:2]
    left = float(min(upper_xy[0, 0], upper_xy[-1, 0]))
    right = float(max(upper_xy[0, 0], upper_xy[-1, 0]))
    x0, x1 = max(math.floor(left), 0), min(math.ceil(right) + 1, w)
    if x1 - x0 < 2:
        return
    cols = np.arange(x0, x1, dtype=np.float32)
    top = line_y(upper_xy, cols)
    bottom = line_y(lower_xy, cols)
    closed = unit(1.0 - (bottom - top) / max(closed_gap_px, 1e-3))
    along = (cols - left) / max(right - left, 1.0)
    taper = unit(np.minimum(along, 1.0 - along) / T.SEAM_CORNER_TAPER_SHARE)
    weight = (closed * taper * shut).astype(np.float32)
    drawn = np.flatnonzero(weight > 0.0)
    if not len(drawn):
        return
    # Only the columns where the seam shows.
    first, last = int(drawn[0]), int(drawn[-1]) + 1
    x0, x1 = x0 + first, x0 + last
    weight = weight[first:last]
    middle = ((top[first:last] + bottom[first:last]) / 2).astype(np.float32)
    reach = half_width_px + 1.0
    y0 = max(math.floor(float(middle.min()) - reach), 0)
    y1 = min(math.ceil(float(middle.max()) + reach) + 1, h)
    if y1 - y0 < 1:
        return
    ys = np.arange(y0, y1, dtype=np.float32)[:, None]
    # Coverage of a band ``2 * half_width_px`` tall by each one-pixel row: anti-aliased edges.
    alpha = unit(np.float32(half_width_px + 0.5) - np.abs(ys - middle))
    alpha *= np.float32(opacity) * weight
    paint = np.empty((y1 - y0, x1 - x0, 3), np.float32)
    paint[...] = rgb
    blend_into(frame[y0:y1, x0:x1], paint, alpha)
