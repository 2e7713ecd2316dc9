"""From vertex displacements to a backward pixel map, over the head region only.

Per avatar, every pixel of the region gets its triangle and barycentric weights once, stored as
a sparse (pixels × vertices) matrix. Per frame, the forward displacement of every pixel is one
sparse product; a few fixed-point steps turn it into the backward map that ``cv2.remap`` needs.
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

    region: tuple[int, int, int, int]
    weights: sparse.csr_matrix  # (pixels, vertices)
    grid_x: np.ndarray  # (h, w) float32 absolute pixel x
    grid_y: np.ndarray
    triangles: np.ndarray  # (T, 3) vertex indices

    @classmethod
    def build(cls, vertices_xy: np.ndarray, region: tuple[int, int, int, int]) -> DisplacementField:
        x0, y0, x1, y1 = region
        gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        pixels = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float64)
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
            region=region,
            weights=weights,
            grid_x=gx,
            grid_y=gy,
            triangles=tri.simplices.astype(np.int32),
        )

    def backward_maps(self, displacement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Source coordinates for every region pixel, given (vertices, 2) forward displacements."""
        x0, y0, x1, y1 = self.region
        h, w = y1 - y0, x1 - x0
        forward = (self.weights @ displacement.astype(np.float32)).reshape(h, w, 2)
        map_x = self.grid_x - forward[:, :, 0]
        map_y = self.grid_y - forward[:, :, 1]
        for _ in range(T.INVERSE_ITERATIONS):
            # Evaluate the forward field where the pixel came from, not where it lands.
            sampled = cv2.remap(
                forward, map_x - x0, map_y - y0, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            map_x = self.grid_x - sampled[:, :, 0]
            map_y = self.grid_y - sampled[:, :, 1]
        return map_x, map_y


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
    corners = np.round((moved_xy[triangles] - [x0, y0]) * 16).astype(np.int32)
    for t, pts in enumerate(corners):
        cv2.fillConvexPoly(ids, pts, t, lineType=cv2.LINE_8, shift=4)
    covered = ids >= 0
    gy, gx = np.nonzero(covered)
    tri = triangles[ids[covered]]
    a, b, c = moved_xy[tri[:, 0]], moved_xy[tri[:, 1]], moved_xy[tri[:, 2]]
    px = np.stack([gx + x0, gy + y0], 1).astype(np.float64)
    v0, v1, v2 = b - a, c - a, px - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    den = np.where(np.abs(den) < 1e-9, 1e-9, den)
    beta = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
    gamma = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
    alpha = 1.0 - beta - gamma
    src = (
        alpha[:, None] * source_xy[tri[:, 0]]
        + beta[:, None] * source_xy[tri[:, 1]]
        + gamma[:, None] * source_xy[tri[:, 2]]
    )
    map_x = np.zeros((h, w), np.float32)
    map_y = np.zeros((h, w), np.float32)
    map_x[covered] = src[:, 0]
    map_y[covered] = src[:, 1]
    return map_x, map_y, covered
