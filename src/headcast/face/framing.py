"""Framing a portrait: a square head-and-shoulders crop with the face centred."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from headcast.face.landmarks import FaceLandmarks

CROP_TO_FACE_HEIGHT_RATIO = 2.6  # crop side over the landmark height (brow to chin)
FACE_CENTRE_BELOW_MIDDLE_RATIO = 0.06  # the face sits this share of the crop above centre


@dataclass(frozen=True)
class Framing:
    """Where the output square came from: output = (source - (x0, y0)) * scale."""

    x0: float
    y0: float
    side_px: float
    scale: float

    def to_output(self, points: np.ndarray) -> np.ndarray:
        out = np.array(points, dtype=np.float32, copy=True)
        out[:, 0] = (out[:, 0] - self.x0) * self.scale
        out[:, 1] = (out[:, 1] - self.y0) * self.scale
        if out.shape[1] > 2:
            out[:, 2] *= self.scale
        return out


def frame_face(image_shape: tuple[int, ...], face: FaceLandmarks, size_px: int) -> Framing:
    """The square crop of an image of ``image_shape`` that frames ``face`` for ``size_px`` output."""
    height, width = image_shape[:2]
    x0, y0, x1, y1 = face.box
    side = CROP_TO_FACE_HEIGHT_RATIO * (y1 - y0)
    side = min(side, float(width), float(height))
    centre_x = 0.5 * (x0 + x1)
    centre_y = 0.5 * (y0 + y1) + FACE_CENTRE_BELOW_MIDDLE_RATIO * side
    left = float(np.clip(centre_x - side / 2, 0.0, width - side))
    top = float(np.clip(centre_y - side / 2, 0.0, height - side))
    return Framing(x0=left, y0=top, side_px=side, scale=size_px / side)


def crop_framed(image_rgb: np.ndarray, framing: Framing, size_px: int) -> np.ndarray:
    """Resample the framed square to ``size_px`` (area filter down, Lanczos up)."""
    matrix = np.array(
        [
            [framing.scale, 0.0, -framing.x0 * framing.scale],
            [0.0, framing.scale, -framing.y0 * framing.scale],
        ],
        dtype=np.float64,
    )
    if framing.scale < 1.0:
        # Area-average first so that downscaling does not alias.
        small = cv2.resize(
            image_rgb,
            None,
            fx=framing.scale,
            fy=framing.scale,
            interpolation=cv2.INTER_AREA,
        )
        matrix = np.array(
            [[1.0, 0.0, -framing.x0 * framing.scale], [0.0, 1.0, -framing.y0 * framing.scale]]
        )
        return cv2.warpAffine(
            small,
            matrix,
            (size_px, size_px),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
    return cv2.warpAffine(
        image_rgb,
        matrix,
        (size_px, size_px),
        flags=cv2.INTER_LANCZOS4,
        borderMode=cv2.BORDER_REPLICATE,
    )
