"""Mouth light: are a render's teeth lit like the photo it came from?

A photo's eye whites are its reference white under its own light: on a yellowed varnish or in
warm lamplight they are yellow, and teeth in the same light cannot be bluer than them. This
measures both with dlib's 68 points (never the renderer's own mesh), in CIE Lab:

- the eye whites of the portrait: inside the eye outlines (36-41, 42-47), the lightest
  pixels, which leaves out the iris, the pupil, lashes and the lids' shadow;
- the brightest teeth of the render: the top few percent by L* inside the inner-lip outline
  (60-67) over the frames where the mouth is clearly open.

``b_gap`` is teeth b* minus eye-white b*: a cold white drawn into a warm picture reads far
below zero (-36 on a yellowed painting); teeth lit like the photo read about zero or above.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from quality.judge import LEFT_EYE, RIGHT_EYE, FaceJudge, FaceMeasure

INNER_LIPS = tuple(range(60, 68))
# Aperture (inner-lip gap / outer-eye-corner distance) from which the inside of the mouth
# shows over more than a sliver: speech peaks at ~0.23, a teeth-showing smile 0.11-0.16.
CLEARLY_OPEN_APERTURE = 0.12
TEETH_TOP_SHARE = 0.05  # of the inside's pixels by L*, pooled over the open frames
# Eye whites: the iris and pupil cover the middle ~40-60 % of an open eye's outline; its
# lightest quarter is sclera on every portrait with visible whites looked at, bar a catchlight
# or two (hence their median rather than their top). Ranked by L* alone: ranking by
# whiteness (L* less chroma) would pick a yellowed white's greyest pixels, reading a
# varnished painting's whites 10-20 b* too blue.
SCLERA_SHARE = 0.25
SCLERA_MIN_PIXELS = 12  # fewer sampled whites than this (tiny or shut eyes) give no reading
INSIDE_MARGIN_PX = 1  # eye outlines eroded by this much, so the lids' edges are not sampled
# The inner-lip outline is eroded by this share of the mouth's width (~3 px on a 512 px
# portrait): dlib's points sit on the lips' wet edge, whose highlights outshine dim teeth.
LIP_MARGIN_TO_MOUTH_WIDTH = 0.03

Lab = tuple[float, float, float]


@dataclass(frozen=True)
class MouthLight:
    """CIE Lab (L* 0-100) of a render's brightest teeth and of its photo's eye whites."""

    teeth_lab: Lab | None  # None when no frame shows the mouth clearly open
    sclera_lab: Lab | None  # None when the portrait's eyes show too few whites
    sclera_lit_l: float | None  # L* of the whites' lit part (their 90th percentile)
    open_frames: int  # frames the teeth were read from

    @property
    def b_gap(self) -> float | None:
        """Teeth b* minus eye-white b*: negative when the teeth are bluer than the whites."""
        if self.teeth_lab is None or self.sclera_lab is None:
            return None
        return self.teeth_lab[2] - self.sclera_lab[2]

    @property
    def l_gap(self) -> float | None:
        """Teeth L* minus eye-white L*: positive when the teeth are lighter than the whites."""
        if self.teeth_lab is None or self.sclera_lab is None:
            return None
        return self.teeth_lab[0] - self.sclera_lab[0]


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB as float32 CIE Lab: L* 0-100, a* and b* about -128..127."""
    pixels = np.asarray(rgb, dtype=np.float32).reshape(-1, 1, 3) / 255.0
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2Lab).reshape(*np.shape(rgb)[:-1], 3)


def inside(
    frame_rgb: np.ndarray, points: np.ndarray, margin_px: int = INSIDE_MARGIN_PX
) -> np.ndarray:
    """The (n, 3) RGB pixels inside the polygon ``points``, its outline eroded by ``margin_px``."""
    h, w = frame_rgb.shape[:2]
    pts = np.round(np.asarray(points, dtype=np.float64)).astype(np.int32)
    x0, y0 = np.clip(pts.min(0) - 2, 0, [w, h])
    x1, y1 = np.clip(pts.max(0) + 3, 0, [w, h])
    if x1 - x0 < 3 or y1 - y0 < 3:
        return np.zeros((0, 3), np.uint8)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [pts - [x0, y0]], (1,))
    kernel = np.ones((2 * margin_px + 1,) * 2, np.uint8)
    mask = cv2.erode(mask, kernel)
    return np.asarray(frame_rgb[y0:y1, x0:x1][mask > 0])


def sclera_lab(portrait_rgb: np.ndarray, measure: FaceMeasure) -> tuple[Lab, float] | None:
    """The portrait's eye whites: median Lab of the lightest pixels inside both eye outlines,
    and the L* of their lit part."""
    pixels = np.concatenate(
        [inside(portrait_rgb, measure.landmarks[list(eye)]) for eye in (RIGHT_EYE, LEFT_EYE)]
    )
    if len(pixels) < SCLERA_MIN_PIXELS / SCLERA_SHARE:
        return None
    lab = to_lab(pixels)
    keep = lab[:, 0] >= np.quantile(lab[:, 0], 1.0 - SCLERA_SHARE)
    return _triple(np.median(lab[keep], axis=0)), float(np.percentile(lab[keep, 0], 90))


def teeth_lab(
    frames_rgb: Sequence[np.ndarray], measures: Sequence[FaceMeasure | None]
) -> tuple[Lab | None, int]:
    """Median Lab of the brightest pixels inside the inner lips over the clearly open frames,
    and how many frames that was."""
    pooled = [
        to_lab(inside(frame, m.landmarks[list(INNER_LIPS)], _lip_margin_px(m)))
        for frame, m in zip(frames_rgb, measures, strict=True)
        if m is not None and m.aperture >= CLEARLY_OPEN_APERTURE
    ]
    pooled = [lab for lab in pooled if len(lab)]
    if not pooled:
        return None, 0
    lab = np.concatenate(pooled)
    keep = lab[:, 0] >= np.quantile(lab[:, 0], 1.0 - TEETH_TOP_SHARE)
    return _triple(np.median(lab[keep], axis=0)), len(pooled)


def mouth_light(
    portrait_rgb: np.ndarray,
    frames_rgb: Sequence[np.ndarray],
    measures: Sequence[FaceMeasure | None],
    portrait_measure: FaceMeasure | None = None,
) -> MouthLight:
    """Teeth of ``frames_rgb`` (with their judge ``measures``) against the eye whites of the
    portrait they were rendered from (measured here unless ``portrait_measure`` is given)."""
    if portrait_measure is None:
        portrait_measure = FaceJudge().measure(portrait_rgb)
    whites = None if portrait_measure is None else sclera_lab(portrait_rgb, portrait_measure)
    teeth, n_open = teeth_lab(frames_rgb, measures)
    return MouthLight(
        teeth_lab=teeth,
        sclera_lab=None if whites is None else whites[0],
        sclera_lit_l=None if whites is None else whites[1],
        open_frames=n_open,
    )


def _lip_margin_px(measure: FaceMeasure) -> int:
    width_px = measure.mouth_width * measure.inter_ocular
    return max(1, round(LIP_MARGIN_TO_MOUTH_WIDTH * width_px))


def _triple(values: np.ndarray) -> Lab:
    return (float(values[0]), float(values[1]), float(values[2]))
