"""Per-avatar displacement bases: how each landmark moves for one unit of each control.

A frame's landmark displacement is the rest offset plus a weighted sum of these bases, then
the head's rigid rotation. Everything here runs once per avatar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headcast.face import regions
from headcast.render.warp import tunables as T

LIP_RING_WEIGHTS_OUTER_TO_INNER = (0.6, 0.8, 0.95, 1.0)
RIGHT_EYE_FOLD = (247, 30, 29, 27, 28, 56, 190)
LEFT_EYE_FOLD = (467, 260, 259, 257, 258, 286, 414)


@dataclass(frozen=True)
class MouthFrame:
    """A coordinate frame on the mouth: origin between the corners, x along them, y towards the chin."""

    centre: np.ndarray
    x_axis: np.ndarray
    y_axis: np.ndarray
    width_px: float
    # The unit of the lips' and jaw's travel: the mouth's width, but no more than a relaxed
    # mouth's on a face of this size, so that a smiling photo's wide mouth does not open,
    # round and stretch further than a neutral one would.
    travel_unit_px: float

    @classmethod
    def of(cls, landmarks: np.ndarray) -> MouthFrame:
        right = landmarks[regions.MOUTH_CORNERS_RIGHT[0], :2]
        left = landmarks[regions.MOUTH_CORNERS_LEFT[0], :2]
        x_axis = (left - right) / max(float(np.linalg.norm(left - right)), 1e-6)
        y_axis = np.array([-x_axis[1], x_axis[0]])
        if y_axis[1] < 0:
            y_axis = -y_axis
        centre = 0.5 * (
            landmarks[regions.INNER_LIP_CORNERS[0], :2]
            + landmarks[regions.INNER_LIP_CORNERS[1], :2]
        )
        width = float(np.linalg.norm(left - right))
        relaxed = T.RELAXED_MOUTH_WIDTH_TO_IOD * regions.inter_ocular_px(landmarks)
        return cls(centre, x_axis, y_axis, width, min(width, relaxed))

    def uv(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates in half-mouth-widths along and across the mouth."""
        rel = points[:, :2] - self.centre
        half = self.width_px / 2
        return rel @ self.x_axis / half, rel @ self.y_axis / half


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _spread(
    landmarks: np.ndarray, disp: np.ndarray, drivers: list[int], sigma_px: float
) -> np.ndarray:
    """Carry the drivers' displacement into nearby landmarks with a Gaussian falloff."""
    xy = landmarks[:, :2]
    driver_xy = xy[drivers]
    d2 = ((xy[:, None, :] - driver_xy[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-d2 / (2 * (0.5 * sigma_px) ** 2)) + 1e-12
    mean = (kernel @ disp[drivers]) / kernel.sum(1, keepdims=True)
    falloff = np.exp(-d2.min(1) / (sigma_px**2))
    out = mean * falloff[:, None]
    out[drivers] = disp[drivers]
    return out


def _lip_pairs() -> list[tuple[int, tuple[int, ...], tuple[int, ...]]]:
    """(column, upper ring points, lower ring points) for each of the nine lip columns."""
    return [
        (
            k,
            tuple(r[k] for r in regions.UPPER_LIP_RINGS),
            tuple(r[k] for r in regions.LOWER_LIP_RINGS),
        )
        for k in range(len(regions.UPPER_LIP_INNER))
    ]


def _lip_points() -> list[int]:
    pts = {i for ring in regions.UPPER_LIP_RINGS + regions.LOWER_LIP_RINGS for i in ring}
    return sorted(pts | set(regions.MOUTH_CORNERS_RIGHT) | set(regions.MOUTH_CORNERS_LEFT))


def source_opening_px(landmarks: np.ndarray, frame: MouthFrame) -> np.ndarray:
    """The gap between the inner lips in the photo, per lip column (≥ 0)."""
    upper = landmarks[list(regions.UPPER_LIP_INNER), :2]
    lower = landmarks[list(regions.LOWER_LIP_INNER), :2]
    return np.maximum((lower - upper) @ frame.y_axis, 0.0)


def rest_offset(landmarks: np.ndarray) -> np.ndarray:
    """Bring an open or smiling mouth to rest: the inner lips meet.

    The jaw does more of the closing than the upper lip, which so keeps more of its shape:
    the face stays closer to the photo.
    """
    frame = MouthFrame.of(landmarks)
    gap = source_opening_px(landmarks, frame)
    disp = np.zeros((len(landmarks), 2))
    # The lips may overlap a little past their meeting line: landmarks of a smile often sit on
    # the teeth rather than on the lip edge, and a sliver of teeth would otherwise show.
    overlap = T.REST_LIP_OVERLAP_TO_GAP * gap + T.REST_LIP_OVERLAP_PX_AT_512 * frame.width_px / 100
    open_ = gap > 0.5
    upper_travel = np.where(open_, T.REST_UPPER_LIP_SHARE * gap + overlap, 0.0)
    lower_travel = np.where(open_, (1.0 - T.REST_UPPER_LIP_SHARE) * gap + overlap, 0.0)
    for k, upper, lower in _lip_pairs():
        for ring, weight in enumerate(LIP_RING_WEIGHTS_OUTER_TO_INNER):
            disp[upper[ring]] += frame.y_axis * upper_travel[k] * weight
            disp[lower[ring]] -= frame.y_axis * lower_travel[k] * weight
    return _spread(
        landmarks, disp, _lip_points(), T.LIP_SKIN_FALLOFF_TO_MOUTH_WIDTH * frame.width_px
    )


def jaw_basis(landmarks: np.ndarray) -> np.ndarray:
    """Landmark motion for jaw_open = 1: the mandible swings down about the ear-level hinge."""
    frame = MouthFrame.of(landmarks)
    travel = T.JAW_OPEN_MAX_TO_MOUTH_WIDTH * frame.travel_unit_px
    u, v = frame.uv(landmarks)
    split = -0.6 * np.maximum(np.abs(u) - 1.0, 0.0)
    member = _smoothstep(v - split, 0.05, 0.6)
    hinge_z = 0.5 * (landmarks[234, 2] + landmarks[454, 2])
    chin_z = landmarks[regions.CHIN, 2]
    depth = np.clip((hinge_z - landmarks[:, 2]) / max(hinge_z - chin_z, 1e-6), 0.1, 1.0)
    disp = (member * depth * travel)[:, None] * frame.y_axis[None, :]

    # The opening is lens-shaped: the lips part most in the middle and stay joined at the corners.
    for _, upper, lower in _lip_pairs():
        for ring in range(4):
            lens = _lens(u[lower[ring]])
            disp[lower[ring]] = (
                frame.y_axis * travel * (0.55 + 0.45 * lens) * (0.95 + 0.05 * ring / 3)
            )
            raise_share = T.UPPER_LIP_RAISE_TO_JAW * (0.6 + 0.4 * ring / 3) * _lens(u[upper[ring]])
            disp[upper[ring]] = -frame.y_axis * travel * raise_share
    for corners, inward in ((regions.MOUTH_CORNERS_RIGHT, 1.0), (regions.MOUTH_CORNERS_LEFT, -1.0)):
        for i in corners:
            disp[i] = travel * (
                T.CORNER_DROP_TO_JAW * frame.y_axis + inward * T.CORNER_NARROW_TO_JAW * frame.x_axis
            )
    return disp


def _lens(u: float) -> float:
    """1 at the middle of the mouth, falling to 0 at the corners (u = ±1)."""
    return float(np.sqrt(max(1.0 - min(abs(u), 1.0) ** 2, 0.0)))


def _horizontal_lip_motion(
    landmarks: np.ndarray, corner_travel_px: float, frame: MouthFrame
) -> np.ndarray:
    u, _ = frame.uv(landmarks)
    disp = np.zeros((len(landmarks), 2))
    lips = _lip_points()
    disp[lips] = (np.clip(u[lips], -1.0, 1.0) * corner_travel_px)[:, None] * frame.x_axis[None, :]
    return disp


def stretch_basis(landmarks: np.ndarray) -> np.ndarray:
    """mouth_stretch = +1: the corners pull outwards (as in "ee"); −1 uses the negative."""
    frame = MouthFrame.of(landmarks)
    disp = _horizontal_lip_motion(
        landmarks, T.STRETCH_MAX_TO_MOUTH_WIDTH * frame.travel_unit_px, frame
    )
    return _spread(
        landmarks, disp, _lip_points(), T.LIP_SKIN_FALLOFF_TO_MOUTH_WIDTH * frame.width_px
    )


def pucker_basis(landmarks: np.ndarray) -> np.ndarray:
    """lip_pucker = 1: the mouth narrows and the lips push out (as in "oo", "w")."""
    frame = MouthFrame.of(landmarks)
    disp = _horizontal_lip_motion(
        landmarks, -T.PUCKER_NARROW_TO_MOUTH_WIDTH * frame.travel_unit_px, frame
    )
    protrude = T.PUCKER_PROTRUDE_TO_MOUTH_WIDTH * frame.travel_unit_px
    for _, upper, lower in _lip_pairs():
        for ring in range(3):
            share = 1.0 - ring / 3
            disp[upper[ring]] -= frame.y_axis * protrude * share
            disp[lower[ring]] += frame.y_axis * protrude * share
    return _spread(
        landmarks, disp, _lip_points(), T.LIP_SKIN_FALLOFF_TO_MOUTH_WIDTH * frame.width_px
    )


def press_basis(landmarks: np.ndarray) -> np.ndarray:
    """lip_press = 1: the lips thin as they press together."""
    frame = MouthFrame.of(landmarks)
    thin = T.PRESS_THIN_TO_MOUTH_WIDTH * frame.travel_unit_px
    disp = np.zeros((len(landmarks), 2))
    for _, upper, lower in _lip_pairs():
        for ring in range(2):
            disp[upper[ring]] += frame.y_axis * thin * (1 - ring / 2)
            disp[lower[ring]] -= frame.y_axis * thin * (1 - ring / 2)
    return disp


def funnel_basis(landmarks: np.ndarray) -> np.ndarray:
    """lip_funnel = 1: the lips flare outwards around a rounded opening ("sh", "ch")."""
    frame = MouthFrame.of(landmarks)
    flare = T.FUNNEL_FLARE_TO_MOUTH_WIDTH * frame.travel_unit_px
    disp = _horizontal_lip_motion(
        landmarks, -T.FUNNEL_NARROW_TO_MOUTH_WIDTH * frame.travel_unit_px, frame
    )
    u, _ = frame.uv(landmarks)
    for _, upper, lower in _lip_pairs():
        for ring in range(4):
            share = (1.0 - 0.5 * ring / 3) * (0.4 + 0.6 * _lens(u[upper[ring]]))
            disp[upper[ring]] -= frame.y_axis * flare * share
            disp[lower[ring]] += frame.y_axis * flare * share
    return _spread(
        landmarks, disp, _lip_points(), T.LIP_SKIN_FALLOFF_TO_MOUTH_WIDTH * frame.width_px
    )


def upper_lip_raise_basis(landmarks: np.ndarray) -> np.ndarray:
    """upper_lip_raise = 1: the upper lip lifts off the teeth, most at its middle."""
    frame = MouthFrame.of(landmarks)
    lift = T.UPPER_LIP_RAISE_TO_MOUTH_WIDTH * frame.travel_unit_px
    u, _ = frame.uv(landmarks)
    disp = np.zeros((len(landmarks), 2))
    for _, upper, _lower in _lip_pairs():
        for ring in range(4):
            disp[upper[ring]] -= (
                frame.y_axis * lift * (0.6 + 0.4 * ring / 3) * _lens(u[upper[ring]])
            )
    return _spread(
        landmarks, disp, _lip_points(), 0.5 * T.LIP_SKIN_FALLOFF_TO_MOUTH_WIDTH * frame.width_px
    )


def lower_lip_tuck_basis(landmarks: np.ndarray) -> np.ndarray:
    """lower_lip_tuck = 1: the lower lip rolls up and in under the upper teeth ("f", "v")."""
    frame = MouthFrame.of(landmarks)
    upper_inner = landmarks[list(regions.UPPER_LIP_INNER), :2]
    lower_inner = landmarks[list(regions.LOWER_LIP_INNER), :2]
    lower_outer = landmarks[list(regions.LOWER_LIP_RINGS[0]), :2]
    thickness = np.maximum((lower_outer - lower_inner) @ frame.y_axis, 1.0)
    del upper_inner  # the rest offset has already closed the photo's own gap
    disp = np.zeros((len(landmarks), 2))
    for k, _upper, lower in _lip_pairs():
        # The inner edge hides behind the upper lip; the outer edge rolls up after it.
        for ring in range(4):
            share = T.TUCK_ROLL_SHARE * (0.35 + 0.65 * ring / 3)
            disp[lower[ring]] -= frame.y_axis * share * thickness[k]
    return _spread(
        landmarks, disp, _lip_points(), T.LIP_SKIN_FALLOFF_TO_MOUTH_WIDTH * frame.width_px
    )


def brow_basis(landmarks: np.ndarray) -> np.ndarray:
    """brow_raise = 1: both brows lift, the forehead skin with them."""
    iod = regions.inter_ocular_px(landmarks)
    lift = T.BROW_LIFT_TO_IOD * iod
    up = _face_up(landmarks)
    disp = np.zeros((len(landmarks), 2))
    brows = list(regions.RIGHT_BROW) + list(regions.LEFT_BROW)
    disp[brows] = up * lift
    return _spread(landmarks, disp, brows, 0.45 * iod)


def _face_up(landmarks: np.ndarray) -> np.ndarray:
    up = landmarks[regions.FOREHEAD, :2] - landmarks[regions.CHIN, :2]
    return up / max(float(np.linalg.norm(up)), 1e-6)


def _interp_lid(x: np.ndarray, lid_x: np.ndarray, lid_y: np.ndarray) -> np.ndarray:
    order = np.argsort(lid_x)
    return np.interp(x, lid_x[order], lid_y[order])


def blink_basis(landmarks: np.ndarray, side: str) -> np.ndarray:
    """blink = 1 on one eye: the upper lid comes down to meet the lower one."""
    if side == "right":
        upper, lower, corners, iris, fold = (
            regions.RIGHT_EYE_UPPER,
            regions.RIGHT_EYE_LOWER,
            regions.RIGHT_EYE_CORNERS,
            regions.RIGHT_IRIS,
            RIGHT_EYE_FOLD,
        )
    else:
        upper, lower, corners, iris, fold = (
            regions.LEFT_EYE_UPPER,
            regions.LEFT_EYE_LOWER,
            regions.LEFT_EYE_CORNERS,
            regions.LEFT_IRIS,
            LEFT_EYE_FOLD,
        )
    xy = landmarks[:, :2].astype(np.float64)
    a, b = xy[corners[0]], xy[corners[1]]
    x_axis = (b - a) / np.linalg.norm(b - a)
    y_axis = np.array([-x_axis[1], x_axis[0]])
    if y_axis[1] < 0:
        y_axis = -y_axis
    local = np.stack([(xy - a) @ x_axis, (xy - a) @ y_axis], 1)
    up_idx, low_idx = (
        list(corners[:1]) + list(upper) + list(corners[1:]),
        list(corners[:1]) + list(lower) + list(corners[1:]),
    )
    up_y = _interp_lid(local[:, 0], local[up_idx, 0], local[up_idx, 1])
    low_y = _interp_lid(local[:, 0], local[low_idx, 0], local[low_idx, 1])
    gap = np.maximum(low_y - up_y, 0.0)
    meet = up_y + T.BLINK_UPPER_LID_SHARE * gap

    move = np.zeros(len(xy))
    move[list(upper)] = (meet - up_y)[list(upper)]
    move[list(lower)] = (meet - low_y)[list(lower)]
    move[list(fold)] = T.BLINK_FOLD_SHARE * (meet - up_y)[list(fold)]
    # Iris points inside the opening are squeezed onto the closed lid line; those the lids
    # already cover move with the lid that covers them.
    inside = list(iris)
    move[inside] = meet[inside] - np.clip(local[inside, 1], up_y[inside], low_y[inside])
    disp = move[:, None] * y_axis[None, :]
    moved = list(upper) + list(lower) + list(fold) + inside
    return _spread(landmarks, disp, moved, 0.6 * float(np.linalg.norm(b - a)))


def head_rotation_matrix(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """The (3, 3) rotation of the head: yaw, then pitch, then roll."""
    yaw, pitch, roll = np.radians([yaw_deg, pitch_deg, roll_deg])
    cy, sy, cp, sp, cr, sr = (
        np.cos(yaw),
        np.sin(yaw),
        np.cos(pitch),
        np.sin(pitch),
        np.cos(roll),
        np.sin(roll),
    )
    r_yaw = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    r_pitch = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    r_roll = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return r_roll @ r_pitch @ r_yaw


def head_rotation(
    points: np.ndarray, pivot: np.ndarray, yaw_deg: float, pitch_deg: float, roll_deg: float
) -> np.ndarray:
    """Rotate (N, 3) points about ``pivot`` and project orthographically; returns (N, 2)."""
    rotation = head_rotation_matrix(yaw_deg, pitch_deg, roll_deg)
    return ((points - pivot) @ rotation.T + pivot)[:, :2]


def head_pivot(landmarks: np.ndarray) -> np.ndarray:
    """A point inside the head, below and behind the eyes, that the head turns about."""
    iod = regions.inter_ocular_px(landmarks)
    eyes = 0.5 * (landmarks[regions.RIGHT_EYE_CORNERS[0]] + landmarks[regions.LEFT_EYE_CORNERS[0]])
    return np.array(
        [
            eyes[0],
            eyes[1] + T.HEAD_PIVOT_BELOW_EYES_TO_IOD * iod,
            eyes[2] + T.HEAD_PIVOT_BEHIND_FACE_TO_IOD * iod,
        ]
    )


def _signed_areas(xy: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    a, b, c = xy[triangles[:, 0]], xy[triangles[:, 1]], xy[triangles[:, 2]]
    return (b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]


def turning_depth(
    vertices: np.ndarray,
    head_weight: np.ndarray,
    n_landmarks: int,
    triangles: np.ndarray,
    rest: np.ndarray,
) -> np.ndarray:
    """The depth the head turns with: the mesh's own, eased towards a smooth bowl fitted to it
    only where a triangle would fold over at the largest turns.

    A warp cannot hide what a turn puts behind a nostril or past the cheek's edge: where a
    triangle folds over, the picture tears. Flattening just those parts keeps the nose's and
    the brow's depth, which is what makes a turn read as a turn. ``rest`` is the vertices'
    displacement of the face at rest, the pose that turns.
    """
    xy = vertices[:, :2].astype(np.float64)
    z = vertices[:, 2].astype(np.float64)
    lm_xy = xy[:n_landmarks]
    scale = max(float(np.ptp(lm_xy[:, 0])), 1.0)
    u = (xy - lm_xy.mean(axis=0)) / scale
    terms = np.stack(
        [np.ones(len(u)), u[:, 0], u[:, 1], u[:, 0] ** 2, u[:, 1] ** 2, u[:, 0] * u[:, 1]], 1
    )
    coefficients, *_ = np.linalg.lstsq(terms[:n_landmarks], z[:n_landmarks], rcond=None)
    bowl = terms @ coefficients
    moving = head_weight > 0
    bowl[~moving] = z[~moving]
    tris = triangles[moving[triangles].any(axis=1)]
    at_rest = xy + rest
    rest_sign = np.sign(_signed_areas(at_rest, tris))
    pivot = head_pivot(vertices[:n_landmarks].astype(np.float64))
    own = np.ones(len(z))  # share of its own depth each vertex keeps (still ones: bowl is z)
    depth = z.copy()
    for _ in range(T.TURN_DEPTH_PASSES):
        depth = own * z + (1.0 - own) * bowl
        points = np.column_stack([at_rest, depth])
        folded = np.zeros(len(tris), bool)
        for yaw in (-T.MAX_TURN_YAW_DEG, T.MAX_TURN_YAW_DEG):
            for pitch in (-T.MAX_TURN_PITCH_DEG, 0.0, T.MAX_TURN_PITCH_DEG):
                turned = head_rotation(points, pivot, yaw, pitch, 0.0)
                folded |= np.sign(_signed_areas(turned, tris)) != rest_sign
        if not folded.any():
            break
        own[np.unique(tris[folded])] *= T.TURN_DEPTH_EASE
    return depth
