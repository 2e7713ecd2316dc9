"""Mouth likeness: how close a rendered mouth is to a real mouth of the same person.

Each mouth becomes a small grey crop, aligned by the similarity transform that best carries
dlib's mouth corners and outer-lip midpoints (points 48, 54, 51, 57) onto a fixed template,
then made zero-mean and unit-norm, so brightness, contrast, head size, position and roll
cancel while the mouth's shape, teeth and tongue remain. The distance between two such
vectors is ``sqrt(2 - 2 cos)``: 0 for the same picture, ~1.41 for unrelated ones.

A render is judged by the median distance of its mouths to the nearest real mouth of footage
of the same person; the footage's own figure is each of its mouths to its nearest mouth at
least ``MIN_GAP_S`` away (a neighbouring frame would be a near copy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from quality.judge import FaceMeasure

MOUTH_POINTS = (48, 54, 51, 57)  # corners (subject's right, left), upper and lower lip midpoints
CROP_WIDTH_PX, CROP_HEIGHT_PX = 64, 48
# Where the four points land in the crop: a closed mouth 36 px wide and 14 px high (a typical
# outer-lip height/width of 0.39), with room for the lip line's surroundings and the chin top.
TEMPLATE_PX = np.array([(14.0, 26.0), (50.0, 26.0), (32.0, 19.0), (32.0, 33.0)])
BLUR_SIGMA_PX = 1.0  # a little smoothing, so sub-pixel misalignment and codec noise weigh less
MIN_GAP_S = 2.0
MOUTH_VECTOR_SIZE = CROP_WIDTH_PX * CROP_HEIGHT_PX


def similarity_to_template(points: np.ndarray, template: np.ndarray = TEMPLATE_PX) -> np.ndarray:
    """The 2×3 least-squares similarity (scale, rotation, shift) taking ``points`` to ``template``."""
    src = np.asarray(points, dtype=np.float64)
    src_c = src[:, 0] + 1j * src[:, 1]
    dst_c = template[:, 0] + 1j * template[:, 1]
    src_mean, dst_mean = src_c.mean(), dst_c.mean()
    s, d = src_c - src_mean, dst_c - dst_mean
    a = complex(np.sum(np.conj(s) * d) / max(float(np.sum(np.abs(s) ** 2)), 1e-9))
    shift = dst_mean - a * src_mean
    return np.array([[a.real, -a.imag, shift.real], [a.imag, a.real, shift.imag]])


def mouth_crop(frame_rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The aligned grey mouth crop (uint8, CROP_HEIGHT_PX × CROP_WIDTH_PX)."""
    grey = cv2.cvtColor(np.ascontiguousarray(frame_rgb), cv2.COLOR_RGB2GRAY)
    matrix = similarity_to_template(np.asarray(landmarks)[list(MOUTH_POINTS)])
    return cv2.warpAffine(
        grey,
        matrix,
        (CROP_WIDTH_PX, CROP_HEIGHT_PX),
        flags=cv2.INTER_AREA if abs(matrix[0, 0]) < 1 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def mouth_vector(crop: np.ndarray) -> np.ndarray:
    """A crop as a zero-mean, unit-norm float32 vector (all NaN for a flat crop)."""
    smooth = cv2.GaussianBlur(crop.astype(np.float32), (0, 0), BLUR_SIGMA_PX).ravel()
    centred = smooth - smooth.mean()
    norm = float(np.linalg.norm(centred))
    if norm < 1e-6:
        return np.full(MOUTH_VECTOR_SIZE, np.nan, dtype=np.float32)
    return (centred / norm).astype(np.float32)


def frame_mouth_vector(frame_rgb: np.ndarray, measure: FaceMeasure | None) -> np.ndarray:
    """The mouth vector of one measured frame; all NaN where no face was found."""
    if measure is None:
        return np.full(MOUTH_VECTOR_SIZE, np.nan, dtype=np.float32)
    return mouth_vector(mouth_crop(frame_rgb, measure.landmarks))


def nearest_distances(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Each query vector's distance to its nearest reference (NaN rows skipped / kept NaN)."""
    refs = references[np.isfinite(references).all(axis=1)]
    out = np.full(len(queries), np.nan)
    usable = np.isfinite(queries).all(axis=1)
    if len(refs) == 0 or not usable.any():
        return out
    cos = queries[usable] @ refs.T
    out[usable] = np.sqrt(np.maximum(2.0 - 2.0 * cos.max(axis=1), 0.0))
    return out


def own_nearest_distances(
    vectors: np.ndarray, times_s: Sequence[float] | np.ndarray, min_gap_s: float = MIN_GAP_S
) -> np.ndarray:
    """Each vector's distance to its nearest other vector at least ``min_gap_s`` away in time."""
    times = np.asarray(times_s, dtype=np.float64)
    usable = np.isfinite(vectors).all(axis=1)
    out = np.full(len(vectors), np.nan)
    index = np.flatnonzero(usable)
    if len(index) < 2:
        return out
    v = vectors[index]
    cos = v @ v.T
    far = np.abs(times[index][:, None] - times[index][None, :]) >= min_gap_s
    cos = np.where(far, cos, -np.inf)
    best = cos.max(axis=1)
    found = np.isfinite(best)
    out[index[found]] = np.sqrt(np.maximum(2.0 - 2.0 * best[found], 0.0))
    return out


@dataclass(frozen=True)
class MouthLikeness:
    """Median nearest-real-mouth distances of a render and of the real footage itself."""

    render_median: float
    real_median: float

    @property
    def ratio(self) -> float:
        """Render over real: 1 means the render's mouths are as close to real ones as the
        footage's own mouths are to each other (the target is at most 1.3)."""
        if not self.real_median > 0:
            return math.nan
        return self.render_median / self.real_median


def mouth_likeness(
    render: np.ndarray,
    real: np.ndarray,
    real_times_s: Sequence[float] | np.ndarray,
    min_gap_s: float = MIN_GAP_S,
) -> MouthLikeness:
    """Compare render mouth vectors with the real ones (both (n, MOUTH_VECTOR_SIZE))."""
    return MouthLikeness(
        render_median=float(np.nanmedian(nearest_distances(render, real))),
        real_median=float(np.nanmedian(own_nearest_distances(real, real_times_s, min_gap_s))),
    )
