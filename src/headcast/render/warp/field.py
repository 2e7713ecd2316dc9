"""From vertex displacements to a backward pixel map, over the head region only.

Per avatar, every sample of a grid over the region gets its triangle and barycentric weights
once, stored as a sparse (samples × vertices) matrix. Per frame, the forward displacement of
every sample is one sparse product; a few fixed-point steps turn it into backward offsets, and
the source positions they give are enlarged to full resolution. The field is piecewise linear
and smooth where it matters at this scale; strong local motion (lips, lids) gets the exact map
of ``exact_backward_map``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.spatial import Delaunay

from headcast.render.warp import tunables as T


@dataclass(frozen=True)
class DisplacementField:
    """Precomputed interpolation from mesh vertices to the pixels of ``region``."""

    region: tuple[int, int, int, int]
    step_px: int
    # (2 samples, 2 vertices): row 2 i gives sample i's x from the vertices' x (the first
    # half of the columns), row 2 i + 1 its y from their y (the second half), so one product
    # of the stacked x, y displacements gives both axes already interleaved.
    weights: sparse.csr_matrix
    sample_grid: np.ndarray  # (h / step, w / step, 2) float32 column, row of each sample
    sample_xy: np.ndarray  # (h / step, w / step, 2) float32 absolute x, y of each sample
    # Enlarged, the samples' positions give every pixel's own, except in the outermost
    # columns and rows, where cv2.resize holds the edge value: there they are off by this.
    edge_cols: np.ndarray  # column indices
    edge_x_error_px: np.ndarray  # float32, per edge column
    edge_rows: np.ndarray
    edge_y_error_px: np.ndarray
    triangles: np.ndarray  # (T, 3) vertex indices

    @classmethod
    def build(
        cls,
        vertices_xy: np.ndarray,
        region: tuple[int, int, int, int],
        step_px: int,
    ) -> DisplacementField:
        x0, y0, x1, y1 = region
        # The samples cover the region in whole steps, past its far edges where it is not a
        # multiple of the step (the enlarged map is cut back to the region).
        x1_padded = x0 + -(-(x1 - x0) // step_px) * step_px
        y1_padded = y0 + -(-(y1 - y0) // step_px) * step_px
        # Sample centres sit where cv2.resize puts a source pixel when enlarging by step_px.
        centre = (step_px - 1) / 2
        sy, sx = np.mgrid[
            y0 + centre : y1_padded : step_px, x0 + centre : x1_padded : step_px
        ].astype(np.float32)
        pixels = np.stack([sx.ravel(), sy.ravel()], 1).astype(np.float64)
        # Samples past the far edges hold the field of the region's last pixels.
        np.minimum(pixels, [x1 - 1, y1 - 1], out=pixels)
        tri = Delaunay(vertices_xy.astype(np.float64))
        simplex = tri.find_simplex(pixels)
        inside = simplex >= 0
        transform = tri.transform[simplex[inside]]
        b = np.einsum("nij,nj->ni", transform[:, :2], pixels[inside] - transform[:, 2])
        bary = np.concatenate([b, 1.0 - b.sum(1, keepdims=True)], axis=1)
        rows = np.repeat(np.flatnonzero(inside), 3)
        cols = tri.simplices[simplex[inside]].ravel()
        n = len(vertices_xy)
        weights = sparse.csr_matrix(
            (
                np.tile(bary.ravel().astype(np.float32), 2),
                (np.concatenate([2 * rows, 2 * rows + 1]), np.concatenate([cols, cols + n])),
            ),
            shape=(2 * len(pixels), 2 * n),
        )
        rows_s, cols_s = np.mgrid[0 : sx.shape[0], 0 : sx.shape[1]].astype(np.float32)
        sample_xy = np.dstack([sx, sy])
        enlarged = cv2.resize(
            sample_xy, (x1_padded - x0, y1_padded - y0), interpolation=cv2.INTER_LINEAR
        )
        x_error = enlarged[0, : x1 - x0, 0] - np.arange(x0, x1, dtype=np.float32)
        y_error = enlarged[: y1 - y0, 0, 1] - np.arange(y0, y1, dtype=np.float32)
        edge_cols = np.flatnonzero(np.abs(x_error) > 1e-3)
        edge_rows = np.flatnonzero(np.abs(y_error) > 1e-3)
        return cls(
            region=region,
            step_px=step_px,
            weights=weights,
            sample_grid=np.dstack([cols_s, rows_s]),
            sample_xy=sample_xy,
            edge_cols=edge_cols,
            edge_x_error_px=x_error[edge_cols],
            edge_rows=edge_rows,
            edge_y_error_px=y_error[edge_rows],
            triangles=tri.simplices.astype(np.int32),
        )

    def backward_map(self, displacement: np.ndarray) -> np.ndarray:
        """Source x, y (h, w, 2 float32) for every region pixel, given (vertices, 2) forward
        displacements."""
        x0, y0, x1, y1 = self.region
        hs, ws = self.sample_grid.shape[:2]
        stacked = np.negative(displacement.T, dtype=np.float32).ravel()
        away = (self.weights @ stacked).reshape(hs, ws, 2)
        backward = away
        for _ in range(T.INVERSE_ITERATIONS):
            # Evaluate the forward field where the pixel came from, not where it lands.
            at = cv2.scaleAdd(backward, 1.0 / self.step_px, self.sample_grid)
            backward = cv2.remap(  # type: ignore[call-overload]  # stubs: map2 may be None
                away, at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
        # Positions are enlarged rather than offsets, which saves a full-size add.
        source = cv2.add(self.sample_xy, backward)
        if self.step_px > 1:
            step = self.step_px
            # cv2 keeps the dtype (float32); its stubs cannot say so.
            source = cast(
                "NDArray[np.float32]",
                cv2.resize(source, (ws * step, hs * step), interpolation=cv2.INTER_LINEAR),
            )
            source = source[: y1 - y0, : x1 - x0]
            source[:, self.edge_cols, 0] -= self.edge_x_error_px
            source[self.edge_rows, :, 1] -= self.edge_y_error_px[:, None]
        return source


@dataclass(frozen=True)
class RasterPatch:
    """Triangles whose backward map is rasterised exactly inside ``box``, with what of them
    never moves computed once."""

    box: tuple[int, int, int, int]
    triangles: np.ndarray  # (T, 3) vertex indices, in drawing order
    source_origin: np.ndarray  # (T, 2) each triangle's first corner in the photo
    source_edges: np.ndarray  # (T, 2, 2) columns: second and third corner minus the first
    source_turn: np.ndarray  # (T,) sign of the triangle's area in the photo
    origin: np.ndarray  # (2,) the box's top left corner
    corner_indices: np.ndarray  # (3 T,) ``triangles`` flattened
    # (h, 2 w, 3) float32: column, row, 1 of every pixel of the box, once per map axis, so
    # that both axes of the affine maps are evaluated in one product and one channel sum.
    homogeneous_grid: np.ndarray

    @classmethod
    def of(
        cls, source_xy: np.ndarray, triangles: np.ndarray, box: tuple[int, int, int, int]
    ) -> RasterPatch:
        corners = source_xy[triangles].astype(np.float64)
        edges = (corners[:, 1:] - corners[:, :1]).transpose(0, 2, 1)
        x0, y0, x1, y1 = box
        grid = np.ones((max(y1 - y0, 0), max(x1 - x0, 0), 2, 3), np.float32)
        grid[..., 0] = np.arange(x1 - x0, dtype=np.float32)[None, :, None]
        grid[..., 1] = np.arange(y1 - y0, dtype=np.float32)[:, None, None]
        return cls(
            box=box,
            triangles=triangles,
            source_origin=corners[:, 0],
            source_edges=edges,
            source_turn=np.sign(np.linalg.det(edges)),
            origin=np.array([x0, y0], np.float64),
            corner_indices=triangles.ravel(),
            homogeneous_grid=grid.reshape(grid.shape[0], -1, 3),
        )


_SUM_CHANNELS = np.ones((1, 3), np.float32)


def exact_backward_map(patch: RasterPatch, moved_xy: np.ndarray, out: np.ndarray) -> None:
    """Backward map inside the patch's box by rasterising its moved triangles: exact where the
    motion is strong.

    Triangles are drawn in order, later ones on top, so the patch puts what may be covered
    (the inside of the mouth, the eye opening) first. Writes source x, y into ``out`` (the
    box's (h, w, 2) part of the map) where some triangle covers the pixel.
    """
    x0, y0, x1, y1 = patch.box
    moved = moved_xy.take(patch.corner_indices, axis=0).reshape(-1, 3, 2) - patch.origin
    edges = moved[:, 1:] - moved[:, :1]  # rows: edges to the second and third corner
    area = edges[:, 0, 0] * edges[:, 1, 1] - edges[:, 0, 1] * edges[:, 1, 0]
    # A triangle turned over has slid under its neighbours (a chin over the neck, lips pressed
    # together): it is hidden, and drawing it would smear its content across the fold.
    shown = np.flatnonzero(np.sign(area) == patch.source_turn)
    if len(shown) == 0:
        return
    source_origin, source_edges = patch.source_origin, patch.source_edges
    if len(shown) < len(area):
        moved, edges, area = moved[shown], edges[shown], area[shown]
        source_origin, source_edges = source_origin[shown], source_edges[shown]
    corners = np.round(moved * 16).astype(np.int32)
    # Only the part of the box the triangles cover this frame needs work.
    xs, ys = corners[:, :, 0], corners[:, :, 1]
    lx, ly = max(int(xs.min()) // 16, 0), max(int(ys.min()) // 16, 0)
    hx, hy = min(int(xs.max()) // 16 + 2, x1 - x0), min(int(ys.max()) // 16 + 2, y1 - y0)
    if hx <= lx or hy <= ly:
        return
    lo = np.array([lx, ly])
    corners -= np.array([16 * lx, 16 * ly], np.int32)
    # Each pixel gets the index (into ``shown``) of the last triangle drawn over it; -1, the
    # extra all-zero row of ``affine``, where none is.
    ids = np.full((hy - ly, hx - lx), -1, np.int32)
    fill = cv2.fillConvexPoly
    # A list's rows are quicker to hand to OpenCV than an array's.
    for t, tri in enumerate(list(corners)):
        fill(ids, tri, (t,), cv2.LINE_8, 4)
    affine = np.zeros((len(shown) + 1, 2, 3), np.float32)
    affine[:-1] = _moved_to_source(
        moved[:, 0] - lo, edges, area, source_origin, source_edges
    ).reshape(-1, 2, 3)
    # Per pixel, its triangle's two affine rows side by side, times (column, row, 1) each,
    # summed over the three channels: the source x, y interleaved.
    c = np.take(affine, ids, axis=0).reshape(hy - ly, 2 * (hx - lx), 3)
    cv2.multiply(c, patch.homogeneous_grid[: hy - ly, : 2 * (hx - lx)], dst=c)
    exact = cv2.transform(c, _SUM_CHANNELS).reshape(hy - ly, hx - lx, 2)
    cv2.copyTo(exact, (ids >= 0).view(np.uint8), out[ly:hy, lx:hx])


def _moved_to_source(
    origin: np.ndarray,
    edges: np.ndarray,
    area: np.ndarray,
    source_origin: np.ndarray,
    source_edges: np.ndarray,
) -> np.ndarray:
    """Per triangle, the affine map (6 coefficients, float32: x row, then y row) from moved to
    source positions, given each side's first corner and edges (as rows here, as columns in
    ``source_edges``) and the moved triangle's doubled signed area."""
    # Triangles squashed flat (lips pressed together) get a finite, if steep, map.
    area = np.where(np.abs(area) < 1e-9, np.copysign(1e-9, area), area)
    # The inverse of the moved edge matrix gives each point's barycentric beta, gamma.
    inverse = np.empty_like(edges)
    inverse[:, 0, 0] = edges[:, 1, 1]
    inverse[:, 0, 1] = -edges[:, 1, 0]
    inverse[:, 1, 0] = -edges[:, 0, 1]
    inverse[:, 1, 1] = edges[:, 0, 0]
    inverse /= area[:, None, None]
    linear = source_edges @ inverse
    offset = source_origin - (linear @ origin[:, :, None])[:, :, 0]
    return np.concatenate([linear, offset[:, :, None]], axis=2).reshape(-1, 6).astype(np.float32)
