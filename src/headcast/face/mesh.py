"""The warp mesh: face landmarks plus anchor rings, so everything outside the head stays still."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headcast.face import regions

HEAD_RING_SCALE_SIDES = 1.22  # hair and ears around the face oval move with the head
HEAD_RING_SCALE_TOP = 1.45
HEAD_RING_SCALE_BOTTOM = 1.25
STILL_RING_SCALE = 2.0  # beyond this ring the picture never moves
EDGE_ANCHORS_PER_SIDE = 6


@dataclass(frozen=True)
class WarpMesh:
    """Vertices the renderer displaces, and the part of the picture they can affect.

    Vertices are the 478 landmarks, then a ring that moves with the head, then fixed anchors.
    ``head_weight`` says how much of the head's rigid motion each vertex follows.
    """

    vertices: np.ndarray  # (N, 3) float32, x/y in output pixels, z in pixels
    head_weight: np.ndarray  # (N,) float32 in [0, 1]
    region: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive) that any motion can touch

    @property
    def n_landmarks(self) -> int:
        return regions.N_LANDMARKS


def _ring(
    landmarks: np.ndarray, centre: np.ndarray, top: float, sides: float, bottom: float
) -> np.ndarray:
    oval = landmarks[list(regions.FACE_OVAL)].astype(np.float32)
    offset = oval[:, :2] - centre
    scale_y = np.where(offset[:, 1] < 0, top, bottom)
    ring = oval.copy()
    ring[:, 0] = centre[0] + offset[:, 0] * sides
    ring[:, 1] = centre[1] + offset[:, 1] * scale_y
    return ring


def build_warp_mesh(landmarks: np.ndarray, size_px: int) -> WarpMesh:
    """Landmarks of a framed face (output pixels) → the mesh used for every frame of the avatar."""
    centre = landmarks[:, :2].mean(axis=0)
    head_ring = _ring(
        landmarks, centre, HEAD_RING_SCALE_TOP, HEAD_RING_SCALE_SIDES, HEAD_RING_SCALE_BOTTOM
    )
    still_ring = _ring(landmarks, centre, STILL_RING_SCALE, STILL_RING_SCALE, STILL_RING_SCALE)
    still_ring[:, :2] = np.clip(still_ring[:, :2], 0, size_px - 1)

    x0, y0 = np.floor(still_ring[:, :2].min(axis=0)).astype(int)
    x1, y1 = np.ceil(still_ring[:, :2].max(axis=0)).astype(int) + 1
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, size_px), min(y1, size_px)
    t = np.linspace(0.0, 1.0, EDGE_ANCHORS_PER_SIDE, endpoint=False)
    left, right, top, bottom = float(x0), float(x1 - 1), float(y0), float(y1 - 1)
    edge = np.concatenate(
        [
            np.stack([left + (right - left) * t, np.full_like(t, top)], 1),
            np.stack([np.full_like(t, right), top + (bottom - top) * t], 1),
            np.stack([right - (right - left) * t, np.full_like(t, bottom)], 1),
            np.stack([np.full_like(t, left), bottom - (bottom - top) * t], 1),
        ]
    )
    edge3 = np.concatenate([edge, np.zeros((len(edge), 1))], axis=1).astype(np.float32)

    vertices = np.concatenate([landmarks.astype(np.float32), head_ring, still_ring, edge3])
    head_weight = np.concatenate(
        [
            np.ones(len(landmarks) + len(head_ring), np.float32),
            np.zeros(len(still_ring) + len(edge3), np.float32),
        ]
    )
    vertices, keep = _drop_duplicates(vertices)
    return WarpMesh(vertices=vertices, head_weight=head_weight[keep], region=(x0, y0, x1, y1))


def _drop_duplicates(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Anchors clipped onto the same spot would make degenerate triangles; keep the first of each."""
    rounded = np.round(vertices[:, :2], 2)
    _, first = np.unique(rounded, axis=0, return_index=True)
    keep = np.zeros(len(vertices), bool)
    keep[first] = True
    keep[: regions.N_LANDMARKS] = True
    return vertices[keep], np.flatnonzero(keep)
