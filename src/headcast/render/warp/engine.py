"""The built-in CPU engine: warps the portrait over its landmark mesh, frame by frame."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import cv2
import numpy as np

from headcast.face import regions
from headcast.face.avatar import Avatar
from headcast.face.segmentation import clean_plate
from headcast.motion.face_motion import FaceMotion
from headcast.render.capabilities import EngineCapabilities, EngineKind
from headcast.render.warp import deform
from headcast.render.warp import tunables as T
from headcast.render.warp.eyes import EYES, EyesLook, draw_eyes, draw_lids
from headcast.render.warp.field import DisplacementField, RasterPatch, exact_backward_map
from headcast.render.warp.mouth import MouthLook, draw_mouth
from headcast.render.warp.seams import SeamLook, draw_seams

_UPPER_LIP = {i for ring in regions.UPPER_LIP_RINGS for i in ring}
_LOWER_LIP = {i for ring in regions.LOWER_LIP_RINGS for i in ring}
_EYE_OPENINGS = tuple({*loop, *iris} for loop, iris in EYES)


def _spans_opening(corners: list[int], triangles: np.ndarray) -> np.ndarray:
    """Triangles whose corners all lie in ``corners``: they lie across that opening."""
    return np.all(np.isin(triangles, corners), axis=1)


def _spans_mouth(triangles: np.ndarray) -> np.ndarray:
    """Triangles bridging upper and lower lip: they fill the opening and may fold when lips press."""
    upper = np.isin(triangles, list(_UPPER_LIP)).any(axis=1)
    lower = np.isin(triangles, list(_LOWER_LIP)).any(axis=1)
    return upper & lower


EYE_EXACT_MAP_MIN = 0.02
DETAIL_BOX_SLACK_PX = 3.0


def _detail_box(
    points_xy: np.ndarray,
    margin_px: float,
    travel_down_px: float,
    region: tuple[int, int, int, int],
    triangles: np.ndarray,
    vertices_xy: np.ndarray,
    needs_exact: np.ndarray,
    spans_opening: Callable[[np.ndarray], np.ndarray],
    travel: np.ndarray | None = None,
) -> RasterPatch:
    """The exact-map box of one feature: its strained triangles near ``points_xy``, whole,
    ordered so that the openings come first and the lids and lips cover them."""
    near_lo = points_xy.min(0) - margin_px
    near_hi = points_xy.max(0) + margin_px + [0.0, travel_down_px]
    corners = vertices_xy[triangles]
    lo, hi = corners.min(axis=1), corners.max(axis=1)
    near = np.all((hi > near_lo) & (lo < near_hi), axis=1)
    chosen = triangles[needs_exact & near]
    # The box holds the chosen triangles wherever they move, so none is cut at its edge.
    spread = vertices_xy[chosen].reshape(-1, 2)
    x0, y0 = np.floor(spread.min(0) - DETAIL_BOX_SLACK_PX).astype(int)
    x1, y1 = np.ceil(spread.max(0) + DETAIL_BOX_SLACK_PX).astype(int)
    y1 += int(np.ceil(travel_down_px))
    rx0, ry0, rx1, ry1 = region
    x0, y0, x1, y1 = max(x0, rx0), max(y0, ry0), min(x1, rx1), min(y1, ry1)
    inside_opening = spans_opening(chosen)
    # The lower lip goes under the upper one when it tucks in: draw it first.
    lower = np.isin(chosen, list(_LOWER_LIP)).any(axis=1) & ~inside_opening
    rest = ~inside_opening & ~lower
    others = chosen[rest]
    if travel is not None:
        # Where the chin folds over the still neck, what travels furthest is in front.
        others = others[np.argsort(travel[others].mean(axis=1), kind="stable")]
    ordered = np.concatenate([chosen[inside_opening], chosen[lower], others])
    return RasterPatch.of(vertices_xy, ordered, (int(x0), int(y0), int(x1), int(y1)))


def _field_step_px(image_shape: tuple[int, ...]) -> int:
    return max(1, round(T.FIELD_STEP_PX_AT_512 * max(image_shape[:2]) / 512))


def _over_all_vertices(landmark_offsets: np.ndarray, vertices_xy: np.ndarray) -> np.ndarray:
    full = np.zeros_like(vertices_xy)
    full[: len(landmark_offsets)] = landmark_offsets[:, :2]
    return full


def _jaw_into_head_ring(
    jaw: np.ndarray, vertices_xy: np.ndarray, head_weight: np.ndarray, n_landmarks: int
) -> np.ndarray:
    """The ring around the face takes part of the chin's travel, so the neck below it gives way
    gradually instead of folding under the chin."""
    ring = np.flatnonzero(head_weight[n_landmarks:] > 0) + n_landmarks
    oval = np.array(regions.FACE_OVAL)
    nearest = oval[
        np.argmin(np.linalg.norm(vertices_xy[ring, None] - vertices_xy[None, oval], axis=2), axis=1)
    ]
    out = jaw.copy()
    out[ring] = T.JAW_SHARE_OF_HEAD_RING * jaw[nearest]
    return out


def _strained(
    vertices_xy: np.ndarray, triangles: np.ndarray, displacements: list[np.ndarray]
) -> np.ndarray:
    """Triangles that some of ``displacements`` stretch or squash by more than the limit.

    There the fixed-point inverse of the smooth field does not converge, so they need the
    exact map.
    """
    src = vertices_xy[triangles]
    e_src = np.stack([src[:, 1] - src[:, 0], src[:, 2] - src[:, 0]], axis=2)  # (T, 2, 2)
    ok = np.abs(np.linalg.det(e_src)) > 1e-6
    inv = np.zeros_like(e_src)
    inv[ok] = np.linalg.inv(e_src[ok])
    strained = np.zeros(len(triangles), bool)
    for disp in displacements:
        dst = src + disp[triangles]
        e_dst = np.stack([dst[:, 1] - dst[:, 0], dst[:, 2] - dst[:, 0]], axis=2)
        sv = np.linalg.svd(e_dst @ inv, compute_uv=False)
        strain = np.maximum(np.abs(sv[:, 0] - 1), np.abs(sv[:, 1] - 1))
        strained |= ok & (strain > T.EXACT_MAP_MIN_STRAIN)
    return strained


@dataclass(frozen=True)
class WarpPlan:
    """Everything the warp needs that does not change from frame to frame."""

    image: np.ndarray
    vertices: np.ndarray  # (N, 3)
    head_weight: np.ndarray  # (N,)
    n_landmarks: int
    field: DisplacementField
    rest: np.ndarray  # (N, 2) vertex displacements
    bases: dict[str, np.ndarray]  # control name → (N, 2) vertex displacement per unit
    pivot: np.ndarray
    turn_depth: np.ndarray  # (N,) the depth each vertex turns with
    mouth: MouthLook
    eyes: EyesLook
    seams: SeamLook
    image_rgba: np.ndarray  # (H, W, 4) uint8 the photo with its person mask as alpha
    person_rgba: np.ndarray  # the same with the colours premultiplied by the mask
    plate: np.ndarray  # (h, w, 3) uint8 the region's background with the person filled in
    details: tuple[RasterPatch, ...]  # where motion is strong enough to need exact maps

    @classmethod
    def build(cls, avatar: Avatar) -> WarpPlan:
        lm = avatar.landmarks.astype(np.float64)
        bases = {
            "jaw_open": deform.jaw_basis(lm),
            "mouth_stretch": deform.stretch_basis(lm),
            "lip_pucker": deform.pucker_basis(lm),
            "lip_funnel": deform.funnel_basis(lm),
            "lip_press": deform.press_basis(lm),
            "upper_lip_raise": deform.upper_lip_raise_basis(lm),
            "lower_lip_tuck": deform.lower_lip_tuck_basis(lm),
            "blink": deform.blink_basis(lm, "right") + deform.blink_basis(lm, "left"),
            "brow_raise": deform.brow_basis(lm),
        }
        field = DisplacementField.build(
            avatar.mesh.vertices[:, :2], avatar.mesh.region, _field_step_px(avatar.image.shape)
        )
        plate = clean_plate(avatar.image, avatar.person.astype(np.float32) / 255)
        vertices_xy = avatar.mesh.vertices[:, :2].astype(np.float64)
        bases = {k: _over_all_vertices(v, vertices_xy) for k, v in bases.items()}
        bases["jaw_open"] = _jaw_into_head_ring(
            bases["jaw_open"], vertices_xy, avatar.mesh.head_weight, len(lm)
        )
        rest = _over_all_vertices(deform.rest_offset(lm), vertices_xy)
        mouth_poses = [rest] + [
            rest + weight * bases[name]
            for name, weight in (
                ("jaw_open", 1.0), ("mouth_stretch", 1.0), ("mouth_stretch", -1.0),
                ("lip_pucker", 1.0), ("lip_funnel", 1.0), ("lip_press", 1.0),
                ("upper_lip_raise", 1.0), ("lower_lip_tuck", 1.0),
            )
        ]  # fmt: skip
        tris = field.triangles
        lips = np.isin(tris, list(_UPPER_LIP | _LOWER_LIP | {61, 291, 78, 308})).any(axis=1)
        mouth_exact = lips | _strained(vertices_xy, tris, mouth_poses)
        eye_exact = _strained(vertices_xy, tris, [rest + bases["blink"]])
        mouth_width = float(np.linalg.norm(lm[61, :2] - lm[291, :2]))
        lip_idx = [i for ring in regions.UPPER_LIP_RINGS + regions.LOWER_LIP_RINGS for i in ring]
        details = [
            _detail_box(
                lm[[*lip_idx, 61, 291], :2],
                0.3 * mouth_width,
                T.JAW_OPEN_MAX_TO_MOUTH_WIDTH * mouth_width,
                field.region,
                tris,
                vertices_xy,
                mouth_exact,
                _spans_mouth,
                np.linalg.norm(bases["jaw_open"], axis=1),
            )
        ]
        for opening in _EYE_OPENINGS:
            pts = lm[sorted(opening), :2]
            eye_width = float(np.ptp(pts[:, 0]))
            details.append(
                _detail_box(
                    pts,
                    0.35 * eye_width,
                    0.0,
                    field.region,
                    tris,
                    vertices_xy,
                    eye_exact | np.isin(tris, list(opening)).any(axis=1),
                    partial(_spans_opening, list(opening)),
                )
            )
        # One remap carries the photo and its person mask at once (4 channels are also faster
        # to remap than 3).
        image_rgba = np.dstack([avatar.image, avatar.person])
        return cls(
            image=avatar.image,
            vertices=avatar.mesh.vertices.astype(np.float64),
            head_weight=avatar.mesh.head_weight.astype(np.float64),
            n_landmarks=len(lm),
            field=field,
            rest=rest,
            bases=bases,
            pivot=deform.head_pivot(lm),
            turn_depth=deform.turning_depth(
                avatar.mesh.vertices, avatar.mesh.head_weight, len(lm), field.triangles, rest
            ),
            mouth=MouthLook.sample(avatar.image, lm),
            eyes=EyesLook.sample(avatar.image, lm),
            seams=SeamLook.sample(avatar.image, lm),
            image_rgba=image_rgba,
            person_rgba=_premultiplied(image_rgba),
            plate=plate[
                field.region[1] : field.region[3], field.region[0] : field.region[2]
            ].copy(),
            details=tuple(details),
        )


class WarpSession:
    """Renders FaceMotion frames for one avatar."""

    def __init__(self, plan: WarpPlan, gaze_offset: tuple[float, float] = (0.0, 0.0)) -> None:
        self.warp_plan = plan
        self.gaze_offset = gaze_offset

    def _offsets(self, motion: FaceMotion) -> np.ndarray:
        p = self.warp_plan
        offsets = p.rest.copy()
        for name, basis in p.bases.items():
            weight = getattr(motion, name)
            if weight:
                offsets += weight * basis
        return offsets

    def _vertex_displacement(self, offsets: np.ndarray, motion: FaceMotion) -> np.ndarray:
        p = self.warp_plan
        disp = offsets
        if motion.head_yaw_deg or motion.head_pitch_deg or motion.head_roll_deg:
            moved = p.vertices.copy()
            moved[:, :2] += disp
            moved[:, 2] = p.turn_depth
            turned = deform.head_rotation(moved, p.pivot, *_turn(motion))
            w = p.head_weight[:, None]
            disp = w * (turned - p.vertices[:, :2]) + (1 - w) * disp
        return disp

    def render(self, motion: FaceMotion) -> np.ndarray:
        """One RGB frame of the avatar in the given pose."""
        p = self.warp_plan
        disp = self._vertex_displacement(self._offsets(motion), motion)
        source_map = p.field.backward_map(disp)
        x0, y0, x1, y1 = p.field.region
        moved_xy = p.vertices[:, :2] + disp
        for k, detail in enumerate(p.details):
            if k > 0 and motion.blink < EYE_EXACT_MAP_MIN:
                continue  # still eyes move smoothly; the interpolated map is exact enough
            bx0, by0, bx1, by1 = detail.box
            exact_backward_map(
                detail, moved_xy, source_map[by0 - y0 : by1 - y0, bx0 - x0 : bx1 - x0]
            )
        # Fixed-point maps remap markedly faster, at 1/32 px precision.
        maps: tuple[np.ndarray, np.ndarray]
        maps = cv2.convertMaps(  # type: ignore[call-overload]  # stubs: map2 may be None
            source_map, None, cv2.CV_16SC2
        )
        turning = bool(motion.head_yaw_deg or motion.head_pitch_deg or motion.head_roll_deg)
        warped = cv2.remap(
            p.person_rgba if turning else p.image_rgba,
            *maps,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        frame = p.image.copy()
        out = frame[y0:y1, x0:x1]
        if turning:
            # The person turns over a still background: what the warp would drag of the
            # background comes from the clean plate instead.
            _over_plate(warped, p.plate, out)
        else:
            cv2.cvtColor(warped, cv2.COLOR_RGBA2RGB, dst=out)

        landmarks_now = p.vertices[: p.n_landmarks, :2] + disp[: p.n_landmarks]
        # Landmarks follow the head rigidly, so taking the jaw's (rotated) share back out
        # gives the upper jaw's pose without building the displacement a second time.
        jaw = np.zeros((p.n_landmarks, 3))
        jaw[:, :2] = motion.jaw_open * p.bases["jaw_open"][: p.n_landmarks]
        rotation = deform.head_rotation_matrix(*_turn(motion))
        upper_jaw = landmarks_now - (jaw @ rotation.T)[:, :2]
        draw_mouth(frame, landmarks_now, upper_jaw, p.mouth, motion.tongue_tip)
        gaze_x = float(np.clip(motion.gaze_x + self.gaze_offset[0], -1.0, 1.0))
        gaze_y = float(np.clip(motion.gaze_y + self.gaze_offset[1], -1.0, 1.0))
        if gaze_x or gaze_y:
            draw_eyes(frame, landmarks_now, maps, (x0, y0), p.eyes, gaze_x, gaze_y)
        if motion.blink >= T.LID_PAINT_MIN_BLINK:
            lid_travel = (motion.blink * p.bases["blink"][: p.n_landmarks]) @ rotation[:2, :2].T
            draw_lids(frame, landmarks_now, lid_travel, p.eyes, motion.blink)
        draw_seams(frame, landmarks_now, p.seams)
        return frame

    def close(self) -> None:
        """Nothing to release; sessions of this engine hold only the shared plan."""


def _turn(motion: FaceMotion) -> tuple[float, float, float]:
    """The head's (yaw, pitch, roll), within what the mesh turns without folding over."""
    return (
        float(np.clip(motion.head_yaw_deg, -T.MAX_TURN_YAW_DEG, T.MAX_TURN_YAW_DEG)),
        float(np.clip(motion.head_pitch_deg, -T.MAX_TURN_PITCH_DEG, T.MAX_TURN_PITCH_DEG)),
        float(np.clip(motion.head_roll_deg, -T.MAX_TURN_ROLL_DEG, T.MAX_TURN_ROLL_DEG)),
    )


def _premultiplied(rgba: np.ndarray) -> np.ndarray:
    alpha = cv2.cvtColor(cv2.extractChannel(rgba, 3), cv2.COLOR_GRAY2RGBA)
    alpha[..., 3] = 255
    return cv2.multiply(rgba, alpha, scale=1 / 255)


def _over_plate(warped_rgba: np.ndarray, plate: np.ndarray, out: np.ndarray) -> None:
    """Lay the warped photo over the clean ``plate`` by its warped person mask, into ``out``.

    The photo's colour channels are premultiplied by its mask, so only the plate is weighted.
    """
    behind = cv2.cvtColor(cv2.bitwise_not(cv2.extractChannel(warped_rgba, 3)), cv2.COLOR_GRAY2RGB)
    cv2.multiply(plate, behind, dst=behind, scale=1 / 255)
    cv2.cvtColor(warped_rgba, cv2.COLOR_RGBA2RGB, dst=out)
    cv2.add(out, behind, dst=out)


PLAN_CACHE_ENTRIES = 8

_plans: OrderedDict[str, WarpPlan] = OrderedDict()
_plans_lock = threading.Lock()


def plan_for(avatar: Avatar) -> WarpPlan:
    """The avatar's plan, built once and shared by all its sessions (plans are read-only)."""
    with _plans_lock:
        plan = _plans.get(avatar.key)
        if plan is not None:
            _plans.move_to_end(avatar.key)
            return plan
    plan = WarpPlan.build(avatar)
    with _plans_lock:
        _plans[avatar.key] = plan
        while len(_plans) > PLAN_CACHE_ENTRIES:
            _plans.popitem(last=False)
    return plan


class WarpEngine:
    """Engine "warp": the built-in CPU renderer."""

    name = "warp"
    capabilities = EngineCapabilities(
        kind=EngineKind.MOTION,
        live=True,
        # One 512² frame of a started session: 2–3 ms on one core (the plan, 0.2–0.4 s, is
        # built by start() and kept per avatar).
        first_frame_latency_ms=5.0,
        description="CPU warp of one portrait over its landmark mesh",
    )

    def start(self, avatar: Avatar) -> WarpSession:
        return WarpSession(plan_for(avatar), avatar.gaze_offset)
