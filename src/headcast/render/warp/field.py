"""From vertex displacements to a backward pixel map, over the head region only.

Per avatar, every sample of a grid over the region gets its triangle and barycentric weights
once, stored as a sparse (samples × vertices) matrix. Per frame, the forward displacement of
every sample is one sparse product; a few fixed-point steps turn it into backward offsets, which
are then enlarged to full resolution. The field is piecewise linear and smooth where it matters
at this scale; strong local motion (lips, lids) gets the exact map of ``exact_backward_maps``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import sparse
from scipy.spatial import Delaunay

from headcast.render.warp import tunables as T


@dataclass(frozen=True)
class DisplacementField:
    """Precomputed interpolation from mesh vertices to the pixels of ``region``."""

    region: tuple[int, int, int, int]  # its sides are multiples of step_px
    step_px: int
    weights: sparse.csr_matrix  # (samples, vertices)
    sample_x: np.ndarray  # (h / step, w / step) float32 absolute x of each sample
    sample_y: np.ndarray
    grid_x: np.ndarray  # (h, w) float32 absolute pixel x
    grid_y: np.ndarray
    triangles: np.ndarray  # (T, 3) vertex indices

    @classmethod
    def build(
        cls,
        vertices_xy: np.ndarray,
        region: tuple[int, int, int, int],
        step_px: int = T.FIELD_STEP_PX,
    ) -> DisplacementField:
        x0, y0, x1, y1 = region
        # Whole samples only; the trimmed edge is the mesh's still outer ring.
        x1 = x0 + (x1 - x0) // step_px * step_px
        y1 = y0 + (y1 - y0) // step_px * step_px
        gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        # Sample centres sit where cv2.resize puts a source pixel when enlarging by step_px.
        centre = (step_px - 1) / 2
        sy, sx = np.mgrid[y0 + centre : y1 : step_px, x0 + centre : x1 : step_px].astype(np.float32)
        pixels = np.stack([sx.ravel(), sy.ravel()], 1).astype(np.float64)
        tri = Delaunay(vertices_xy.astype(np.float64))
        simplex = tri.find_simplex(pixels)
        inside = simplex >= 0
        transform = tri.transform[simplex[inside]]
        b = np.einsum("nij,nj->ni", transform[:, :2], pixels[inside] - transform[:, 2])
        bary = np.concatenate([b, 1.0 - b.sum(1, keepdims=True)], axis=1)
        rows = np.repeat(np.flatnonzero(inside), 3)
        cols = tri.simplices[simplex[inside]].ravel()
        weights = sparse.csr_matrix(
            (bary.ravel().astype(np.float32), (rows, cols)), shape=(len(pixels), len(vertices_xy))
        )
        return cls(
            region=(x0, y0, x1, y1),
            step_px=step_px,
            weights=weights,
            sample_x=sx,
            sample_y=sy,
            grid_x=gx,
            grid_y=gy,
            triangles=tri.simplices.astype(np.int32),
        )

    def backward_maps(self, displacement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Source coordinates for every region pixel, given (vertices, 2) forward displacements."""
        x0, y0, x1, y1 = self.region
        step = self.step_px
        hs, ws = self.sample_x.shape
        forward = (self.weights @ displacement.astype(np.float32)).reshape(hs, ws, 2)
        backward = -forward
        centre = (step - 1) / 2
        for _ in range(T.INVERSE_ITERATIONS):
            # Evaluate the forward field where the pixel came from, not where it lands.
            at_x = (self.sample_x + backward[:, :, 0] - x0 - centre) / step
            at_y = (self.sample_y + backward[:, :, 1] - y0 - centre) / step
            backward = -cv2.remap(
                forward, at_x, at_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
        if step > 1:
            backward = cv2.resize(backward, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        return self.grid_x + backward[:, :, 0], self.grid_y + backward[:, :, 1]


def exact_backward_maps(
    source_xy: np.ndarray,
    moved_xy: np.ndarray,
    triangles: np.ndarray,
    box: tuple[int, int, int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward map inside ``box`` by rasterising the moved mesh: exact where the motion is strong.

    ``triangles`` are drawn in order, later ones on top, so callers put what may be covered
    (the inside of the mouth, the eye opening) first. Returns map_x, map_y and a mask of the
    pixels that some triangle covered.
    """
    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    ids = np.full((h, w), -1, np.int32)
    moved = moved_xy[triangles]
    source = source_xy[triangles]
    # A triangle turned over has slid under its neighbours (a chin over the neck, lips pressed
    # together): it is hidden, and drawing it would smear its content across the fold.
    flipped = np.sign(_signed_area(moved)) != np.sign(_signed_area(source))
    corners = np.round((moved - [x0, y0]) * 16).astype(np.int32)
    for t in np.flatnonzero(~flipped):
        cv2.fillConvexPoly(ids, corners[t], int(t), lineType=cv2.LINE_8, shift=4)
    covered = ids >= 0
    affine = _moved_to_source(moved, source)[ids[covered]]
    gy, gx = np.nonzero(covered)
    px = (gx + x0).astype(np.float32)
    py = (gy + y0).astype(np.float32)
    map_x = np.zeros((h, w), np.float32)
    map_y = np.zeros((h, w), np.float32)
    map_x[covered] = affine[:, 0] * px + affine[:, 1] * py + affine[:, 2]
    map_y[covered] = affine[:, 3] * px + affine[:, 4] * py + affine[:, 5]
    return map_x, map_y, covered


def _signed_area(corners: np.ndarray) -> np.ndarray:
    e1 = corners[:, 1] - corners[:, 0]
    e2 = corners[:, 2] - corners[:, 0]
    return e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]


def _moved_to_source(moved: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Per triangle, the affine map (6 coefficients, float32) from moved to source positions."""
    a, b, c = moved[:, 0], moved[:, 1], moved[:, 2]
    e1, e2 = b - a, c - a
    den = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    # Triangles squashed flat (lips pressed together) get a finite, if steep, map.
    den = np.where(np.abs(den) < 1e-9, np.copysign(1e-9, den), den)
    # Barycentric beta, gamma as linear functions of (x, y): rows of the inverse edge matrix.
    inv = np.stack([e2[:, 1], -e2[:, 0], -e1[:, 1], e1[:, 0]], axis=1) / den[:, None]
    sa, sb, sc = source[:, 0], source[:, 1], source[:, 2]
    d1, d2 = sb - sa, sc - sa
    # source = sa + beta * d1 + gamma * d2, beta = inv[0] . (p - a), gamma = inv[1] . (p - a)
    cx = d1[:, 0:1] * inv[:, 0:2] + d2[:, 0:1] * inv[:, 2:4]
    cy = d1[:, 1:2] * inv[:, 0:2] + d2[:, 1:2] * inv[:, 2:4]
    ox = sa[:, 0] - (cx * a).sum(1)
    oy = sa[:, 1] - (cy * a).sum(1)
    return np.concatenate([cx, ox[:, None], cy, oy[:, None]], axis=1).astype(np.float32)
