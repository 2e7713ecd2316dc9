"""The common mouth frame: every frame's lower face, aligned on the skull's points to one
representative frame, so that mouths from anywhere in the clip can be compared and moved."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from headcast.enrol import tunables as T
from headcast.face import regions

# The lower face: the jaw line from ear to ear, and across under the nose. Its outline is
# where a mouth from the atlas is blended into a base frame.
LOWER_FACE = (
    132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361,
    323, 425, 423, 391, 393, 164, 167, 165, 92, 203, 205, 93,
)  # fmt: skip
MOUTH_CENTRE = (13, 14, 61, 291)


def similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2×3 rotation, uniform scale and shift that best maps ``source`` points onto
    ``target`` points (least squares)."""
    src = np.asarray(source, np.float64)
    dst = np.asarray(target, np.float64)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    a, b = src - src_mean, dst - dst_mean
    norm = float((a**2).sum())
    if norm <= 1e-12:
        return np.array(
            [[1.0, 0.0, dst_mean[0] - src_mean[0]], [0.0, 1.0, dst_mean[1] - src_mean[1]]]
        )
    p = float((a * b).sum())
    q = float((a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum())
    c, s = p / norm, q / norm
    rot = np.array([[c, -s], [s, c]])
    shift = dst_mean - rot @ src_mean
    return np.hstack([rot, shift[:, None]])


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, np.float64)
    return (pts @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2×3 matrix of ``outer`` after ``inner``."""
    return np.hstack(
        [outer[:, :2] @ inner[:, :2], (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]]
    )


def invert(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(matrix.astype(np.float64))


@dataclass(frozen=True)
class MouthBox:
    """Where mouth crops are cut, in the representative frame's pixels."""

    x0: int
    y0: int
    width: int
    height: int

    @classmethod
    def around(cls, landmarks: np.ndarray, size_px: int) -> MouthBox:
        iod = regions.inter_ocular_px(landmarks)
        cx, cy = landmarks[list(MOUTH_CENTRE), :2].mean(0)
        x0 = int(np.floor(cx - T.MOUTH_CROP_HALF_WIDTH_IOD * iod))
        y0 = int(np.floor(cy - T.MOUTH_CROP_ABOVE_IOD * iod))
        x1 = int(np.ceil(cx + T.MOUTH_CROP_HALF_WIDTH_IOD * iod))
        y1 = int(np.ceil(cy + T.MOUTH_CROP_BELOW_IOD * iod))
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, size_px), min(y1, size_px)
        return cls(x0, y0, x1 - x0, y1 - y0)

    def as_array(self) -> np.ndarray:
        return np.array([self.x0, self.y0, self.width, self.height], np.int32)


def cut_mouth(frame: np.ndarray, to_reference: np.ndarray, box: MouthBox) -> np.ndarray:
    """The lower face of ``frame`` moved into the representative frame, cut to ``box``."""
    shifted = to_reference.copy()
    shifted[:, 2] -= (box.x0, box.y0)
    return cv2.warpAffine(
        frame,
        shifted,
        (box.width, box.height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
