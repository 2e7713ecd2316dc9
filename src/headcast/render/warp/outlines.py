"""Outlines of the parts the renderer paints (mouth interior, eyes, lids): anti-aliased
coverage of a closed outline, and the height of an open one (a lip or lid line) per column."""

from __future__ import annotations

import cv2
import numpy as np

SUPERSAMPLING = 4  # the outline is drawn this much finer, then averaged down


def polygon_coverage(points_xy: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Share of each pixel of ``box`` (x0, y0, x1, y1) inside the polygon, float32 in [0, 1]."""
    x0, y0, x1, y1 = box
    fine = np.zeros(((y1 - y0) * SUPERSAMPLING, (x1 - x0) * SUPERSAMPLING), np.uint8)
    pts = np.round((points_xy - [x0, y0]) * SUPERSAMPLING).astype(np.int32)
    cv2.fillPoly(fine, [pts], (255,))
    coarse = cv2.resize(fine, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    return coarse.astype(np.float32) / 255


def unit(x: np.ndarray) -> np.ndarray:
    """``x`` clipped to [0, 1], as coverages and ramps are; np.clip's overhead shows on arrays
    this small."""
    return np.minimum(np.maximum(x, 0.0), 1.0)


def line_y(points_xy: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Height of the line through ``points_xy`` (in any order along x) at each of ``xs``."""
    order = np.argsort(points_xy[:, 0])
    return np.interp(xs, points_xy[order, 0], points_xy[order, 1])


def extent(points_xy: np.ndarray) -> tuple[float, float, float, float]:
    """Left, top, right, bottom of ``points_xy`` (N, 2)."""
    xs, ys = points_xy[:, 0], points_xy[:, 1]
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def blend_into(target: np.ndarray, paint: np.ndarray, weight: np.ndarray) -> None:
    """``target`` (uint8, in place) moved towards ``paint`` (float32, overwritten) by
    ``weight`` (float32, per pixel), rounded."""
    below = target.astype(np.float32)
    paint -= below
    paint *= weight[:, :, None]
    paint += below
    paint += 0.5
    np.clip(paint, 0, 255, out=paint)
    target[...] = paint
