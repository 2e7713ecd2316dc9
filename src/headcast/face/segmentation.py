"""Which pixels of the portrait are the person, and the background without them.

Used so that a turning head moves over a still background: the person follows the warp, the
rest of the picture comes from a clean plate where the person has been filled in.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from headcast.face.native_log import quiet_native_stderr

_lock = threading.Lock()
_segmenter = None


def person_mask(image_rgb: np.ndarray) -> np.ndarray:
    """(H, W) float32 in [0, 1]: 1 on the person (head, hair, body), 0 on the background."""
    global _segmenter
    import mediapipe as mp

    with _lock, quiet_native_stderr():
        if _segmenter is None:
            # The general model (square input) suits portraits better than the landscape one.
            _segmenter = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
        result = _segmenter.process(np.ascontiguousarray(image_rgb))
    mask = result.segmentation_mask
    if mask is None:
        return np.ones(image_rgb.shape[:2], np.float32)
    return np.clip(mask, 0.0, 1.0).astype(np.float32)


def clean_plate(image_rgb: np.ndarray, person: np.ndarray, grow_px: int = 6) -> np.ndarray:
    """The picture with the person (grown by ``grow_px``) filled in from the background around.

    A pull-push fill: smooth, and fast at any size; only thin slivers of it ever show.
    """
    hard: np.ndarray = (person > 0.3).astype(np.uint8)
    if grow_px > 0:
        hard = cv2.dilate(
            hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow_px + 1,) * 2)
        )
    known = 1.0 - hard.astype(np.float32)
    filled = _pull_push(image_rgb.astype(np.float32), known)
    return np.clip(filled + 0.5, 0, 255).astype(np.uint8)


def _pull_push(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    h, w = known.shape
    if min(h, w) <= 4 or known.min() > 0.999:
        weight = max(float(known.sum()), 1e-6)
        mean = (image * known[:, :, None]).sum(axis=(0, 1)) / weight
        return image * known[:, :, None] + mean * (1 - known[:, :, None])
    num = cv2.pyrDown(image * known[:, :, None])
    den = cv2.pyrDown(known)
    coarse = num / np.maximum(den, 1e-6)[:, :, None]
    coarse = _pull_push(coarse, np.clip(den * 4.0, 0.0, 1.0))
    up = cv2.pyrUp(coarse, dstsize=(w, h))
    return image * known[:, :, None] + up * (1 - known[:, :, None])
