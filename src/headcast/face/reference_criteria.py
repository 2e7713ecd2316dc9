"""The criteria of a good reference photo, each measured on one face and scored in [0, 1].

Geometry (pose, eyes, mouth, framing, resolution) comes from the 478 landmarks; appearance
(sharpness, exposure, lighting, occlusion) from a face crop reduced to a fixed eye distance, so
that the numbers mean the same for a 512² picture and a 12 MP one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from headcast.face import regions as R
from headcast.face.avatar import MIN_FACE_HEIGHT_PX

# Each ramp is (score 0 at, score 1 at); values between are linear.
ANALYSIS_EYE_DISTANCE_PX = 64.0  # face crops are reduced to this eye distance before measuring
FACE_HEIGHT_PER_EYE_DISTANCE = 2.0  # landmark height over outer-eye-corner distance, frontal
RESOLUTION_FULL_EYE_DISTANCE_PX = 100.0  # what a 512² render needs without upscaling
RESOLUTION_ZERO_EYE_DISTANCE_PX = MIN_FACE_HEIGHT_PX / FACE_HEIGHT_PER_EYE_DISTANCE
YAW_FREE_DEG, YAW_ZERO_DEG = 6.0, 35.0  # no penalty up to FREE, score 0 at ZERO
PITCH_FREE_DEG, PITCH_ZERO_DEG = 10.0, 35.0
ROLL_FREE_DEG, ROLL_ZERO_DEG = 8.0, 35.0
EYE_OPEN_ZERO_RATIO, EYE_OPEN_FULL_RATIO = 0.08, 0.20  # lid gap over eye width
LIP_GAP_FREE_RATIO, LIP_GAP_ZERO_RATIO = 0.04, 0.30  # inner-lip gap over eye distance
MOUTH_WIDTH_FREE_RATIO, MOUTH_WIDTH_ZERO_RATIO = 0.70, 0.95  # corner to corner over eye distance
SHARPNESS_ZERO_RATIO, SHARPNESS_FULL_RATIO = 0.11, 0.25  # fine-detail over mid-detail energy
HIGHLIGHT_ZERO_LUMA, HIGHLIGHT_FULL_LUMA = 0.15, 0.40  # 90th percentile of skin luma (sRGB)
CLIPPED_FREE_FRACTION, CLIPPED_ZERO_FRACTION = 0.02, 0.30  # skin pixels at white
CONTRAST_ZERO_LUMA, CONTRAST_FULL_LUMA = 0.06, 0.20  # 95th minus 5th percentile of skin luma
SIDE_FREE_STOPS, SIDE_ZERO_STOPS = 1.0, 3.5  # left/right skin brightness, linear light
SHADOW_LUMA_OF_MEDIAN = 0.45  # skin darker than this share of the median skin luma is shadow
SHADOW_FREE_FRACTION, SHADOW_ZERO_FRACTION = 0.06, 0.35
EYE_AREA_DARK_ZERO_RATIO, EYE_AREA_DARK_FULL_RATIO = 0.25, 0.55  # eye area over skin luma
GLARE_LUMA = 0.92  # grey pixels brighter than this around the eyes are glare
GLARE_FREE_FRACTION, GLARE_ZERO_FRACTION = 0.03, 0.15
MARGIN_TOP_FACE_HEIGHTS = 0.45  # room wanted above the forehead landmark: hair + head motion
MARGIN_SIDE_FACE_HEIGHTS = 0.30  # room wanted beside the face outline: ears + head motion
MARGIN_BOTTOM_FACE_HEIGHTS = 0.25  # room wanted below the chin
SECOND_FACE_AREA_SHARE = 0.5  # a second face this large (share of the main one) halves "faces"
FLAW_BELOW_SCORE = 0.85  # a criterion under this is a flaw worth naming

EYE_LOOPS = (
    R.RIGHT_EYE_UPPER + tuple(reversed(R.RIGHT_EYE_LOWER)),
    R.LEFT_EYE_UPPER + tuple(reversed(R.LEFT_EYE_LOWER)),
)
_POSE_PAIRS = ((33, 263), (133, 362), (234, 454), (61, 291), (127, 356), (93, 323))
_INNER_LIP_PAIRS = ((82, 87), (13, 14), (312, 317))


@dataclass(frozen=True)
class CriterionScore:
    name: str
    score: float  # in [0, 1], 1 is best
    reason: str


def ramp(value: float, zero: float, full: float) -> float:
    """0 at ``zero``, 1 at ``full`` (either order), linear between."""
    return float(np.clip((value - zero) / (full - zero), 0.0, 1.0))


def head_pose_deg(points: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from the 3D landmarks, via a face frame.

    The face's x axis is the sum of left-minus-right vectors of symmetric landmark pairs (eyes,
    cheeks, mouth corners), its y axis runs chin to forehead, made orthogonal to x. Yaw > 0: the
    face turns towards the right of the picture; pitch > 0: chin up; roll > 0: the head leans
    clockwise on screen.
    """
    x_axis = sum(points[b] - points[a] for a, b in _POSE_PAIRS)
    x_axis = x_axis / np.linalg.norm(x_axis)
    y_axis = points[R.FOREHEAD] - points[R.CHIN]
    y_axis = y_axis - x_axis * float(np.dot(y_axis, x_axis))
    y_axis = y_axis / np.linalg.norm(y_axis)
    yaw = math.degrees(math.asin(float(np.clip(x_axis[2], -1, 1))))
    pitch = math.degrees(math.asin(float(np.clip(y_axis[2], -1, 1))))
    roll = math.degrees(math.atan2(x_axis[1], x_axis[0]))
    return yaw, pitch, roll


def faces_criterion(face_areas: list[float]) -> CriterionScore:
    if len(face_areas) == 1:
        return CriterionScore("faces", 1.0, "one face")
    share = face_areas[1] / face_areas[0]
    score = 1.0 - 0.5 * min(1.0, share / SECOND_FACE_AREA_SHARE)
    return CriterionScore("faces", score, f"{len(face_areas)} faces; the largest is used")


def resolution_criterion(eye_px: float) -> CriterionScore:
    score = ramp(
        math.log(max(eye_px, 1.0)),
        math.log(RESOLUTION_ZERO_EYE_DISTANCE_PX),
        math.log(RESOLUTION_FULL_EYE_DISTANCE_PX),
    )
    word = "face large enough" if score >= 1 else "face too small" if score <= 0 else "small face"
    return CriterionScore("resolution", score, f"{word}, {eye_px:.0f} px across the eyes")


def pose_criterion(yaw: float, pitch: float, roll: float) -> CriterionScore:
    parts = {
        "turned": (yaw, ramp(abs(yaw), YAW_ZERO_DEG, YAW_FREE_DEG)),
        "tilted up or down": (pitch, ramp(abs(pitch), PITCH_ZERO_DEG, PITCH_FREE_DEG)),
        "tilted sideways": (roll, ramp(abs(roll), ROLL_ZERO_DEG, ROLL_FREE_DEG)),
    }
    score = float(np.prod([s for _angle, s in parts.values()]))
    word, (angle, _s) = min(parts.items(), key=lambda kv: kv[1][1])
    angles = f"yaw {yaw:+.0f}°, pitch {pitch:+.0f}°, roll {roll:+.0f}°"
    if score >= FLAW_BELOW_SCORE:
        return CriterionScore("pose", score, f"frontal ({angles})")
    return CriterionScore("pose", score, f"head {word} {abs(angle):.0f}° ({angles})")


def eyes_criterion(points: np.ndarray) -> CriterionScore:
    def openness(upper: Sequence[int], lower: Sequence[int], corners: Sequence[int]) -> float:
        gap = np.linalg.norm(points[list(upper[2:5]), :2] - points[list(lower[2:5]), :2], axis=1)
        return float(gap.mean() / np.linalg.norm(points[corners[0], :2] - points[corners[1], :2]))

    ratio = min(
        openness(R.RIGHT_EYE_UPPER, R.RIGHT_EYE_LOWER, R.RIGHT_EYE_CORNERS),
        openness(R.LEFT_EYE_UPPER, R.LEFT_EYE_LOWER, R.LEFT_EYE_CORNERS),
    )
    score = ramp(ratio, EYE_OPEN_ZERO_RATIO, EYE_OPEN_FULL_RATIO)
    word = "eyes closed" if score < 0.3 else "eyes narrowed, squinting"
    word = "eyes open" if score >= FLAW_BELOW_SCORE else word
    return CriterionScore("eyes", score, f"{word} (lid gap {ratio:.2f} of eye width)")


def mouth_criterion(points: np.ndarray, iod: float) -> CriterionScore:
    xy = points[:, :2]
    gap = max(float(np.linalg.norm(xy[a] - xy[b])) for a, b in _INNER_LIP_PAIRS) / iod
    width = float(np.linalg.norm(xy[R.MOUTH_CORNERS_RIGHT[0]] - xy[R.MOUTH_CORNERS_LEFT[0]])) / iod
    open_score = ramp(gap, LIP_GAP_ZERO_RATIO, LIP_GAP_FREE_RATIO)
    smile_score = ramp(width, MOUTH_WIDTH_ZERO_RATIO, MOUTH_WIDTH_FREE_RATIO)
    score = open_score * smile_score
    if score >= FLAW_BELOW_SCORE:
        word = "mouth closed and neutral"
    elif smile_score < 1:
        word = "smiling, teeth showing" if open_score < 1 else "smiling (mouth stretched wide)"
    else:
        word = "mouth open"
    detail = f"lip gap {gap:.2f}, width {width:.2f} eye distances"
    return CriterionScore("mouth", score, f"{word} ({detail})")


def framing_criterion(points: np.ndarray, shape: tuple[int, ...]) -> CriterionScore:
    """Room around the face for hair, ears and head motion, in face heights."""
    h, w = shape[:2]
    x0, y0 = points[:, :2].min(axis=0)
    x1, y1 = points[:, :2].max(axis=0)
    face_h = max(float(y1 - y0), 1.0)
    margins = {
        "top": (y0 / face_h, MARGIN_TOP_FACE_HEIGHTS),
        "left": (x0 / face_h, MARGIN_SIDE_FACE_HEIGHTS),
        "right": ((w - x1) / face_h, MARGIN_SIDE_FACE_HEIGHTS),
        "bottom": ((h - y1) / face_h, MARGIN_BOTTOM_FACE_HEIGHTS),
    }
    shares = {side: float(np.clip(m / need, 0.0, 1.0)) for side, (m, need) in margins.items()}
    side, score = min(shares.items(), key=lambda kv: kv[1])
    if score >= FLAW_BELOW_SCORE:
        return CriterionScore("framing", score, "whole head in frame with room to move")
    word = "head cut off" if score < 0.3 else "little room"
    return CriterionScore("framing", score, f"{word} at the {side} of the picture")


class FaceCrop:
    """The face reduced to ANALYSIS_EYE_DISTANCE_PX, with its luma and region masks."""

    def __init__(self, image_rgb: np.ndarray, points: np.ndarray, iod: float) -> None:
        h, w = image_rgb.shape[:2]
        oval = points[list(R.FACE_OVAL), :2]
        x0, y0 = np.maximum(np.floor(oval.min(axis=0) - 0.1 * iod), 0).astype(int)
        x1, y1 = np.minimum(np.ceil(oval.max(axis=0) + 0.1 * iod), [w, h]).astype(int)
        f = min(1.0, ANALYSIS_EYE_DISTANCE_PX / iod)
        crop = image_rgb[y0:y1, x0:x1]
        if f < 1.0:
            crop = cv2.resize(crop, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        self.rgb = crop
        self.luma = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        self.pts = (points[:, :2] - [x0, y0]) * f
        self.iod = iod * f
        k = max(1, round(0.08 * self.iod))
        self.face = cv2.erode(self._poly(R.FACE_OVAL), np.ones((2 * k + 1,) * 2, np.uint8)) > 0
        eyes = self._poly(EYE_LOOPS[0], 0.12) | self._poly(EYE_LOOPS[1], 0.12)
        self.eye_area = (eyes > 0) & self.face
        features = (
            self._poly(EYE_LOOPS[0], 0.15)
            | self._poly(EYE_LOOPS[1], 0.15)
            | self._poly(R.OUTER_LIP_LOOP, 0.1)
            | self._poly(R.RIGHT_BROW, 0.08, hull=True)
            | self._poly(R.LEFT_BROW, 0.08, hull=True)
        )
        self.skin = self.face & (features == 0)
        # Signed distance across the face from the nose bridge, in eye distances.
        across = self.pts[R.LEFT_EYE_CORNERS[0]] - self.pts[R.RIGHT_EYE_CORNERS[0]]
        across = across / np.linalg.norm(across)
        yy, xx = np.mgrid[0 : self.luma.shape[0], 0 : self.luma.shape[1]]
        bridge = self.pts[168]
        self.across = ((xx - bridge[0]) * across[0] + (yy - bridge[1]) * across[1]) / self.iod

    def _poly(
        self, idx: Sequence[int], dilate_iod: float = 0.0, *, hull: bool = False
    ) -> np.ndarray:
        pts = np.round(self.pts[list(idx)]).astype(np.int32)
        if hull:
            pts = cv2.convexHull(pts)
        mask: np.ndarray = np.zeros(self.luma.shape, np.uint8)
        cv2.fillPoly(mask, [pts.reshape(-1, 2)], (1,))
        if dilate_iod:
            k = max(1, round(dilate_iod * self.iod))
            mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1,) * 2))
        return mask


def sharpness_criterion(crop: FaceCrop) -> CriterionScore:
    """Fine detail (above a 1 px blur) over mid detail (above 4 px), on the face at fixed scale."""
    fine = np.abs(crop.luma - cv2.GaussianBlur(crop.luma, (0, 0), 1.0))[crop.face].mean()
    mid = np.abs(crop.luma - cv2.GaussianBlur(crop.luma, (0, 0), 4.0))[crop.face].mean()
    ratio = float(fine / max(mid, 1e-4))
    score = ramp(ratio, SHARPNESS_ZERO_RATIO, SHARPNESS_FULL_RATIO)
    word = "sharp" if score >= FLAW_BELOW_SCORE else "soft face" if score > 0.4 else "blurry face"
    return CriterionScore("sharpness", score, f"{word} (detail ratio {ratio:.2f})")


def exposure_criterion(crop: FaceCrop) -> CriterionScore:
    skin = crop.luma[crop.skin]
    if skin.size < 20:
        return CriterionScore("exposure", 0.5, "too little skin visible to judge exposure")
    p5, p90, p95 = np.percentile(skin, [5, 90, 95])
    clipped = float((crop.rgb[crop.skin].min(axis=1) >= 250).mean())
    parts = {
        "underexposed face": ramp(p90, HIGHLIGHT_ZERO_LUMA, HIGHLIGHT_FULL_LUMA),
        "overexposed face": ramp(clipped, CLIPPED_ZERO_FRACTION, CLIPPED_FREE_FRACTION),
        "flat, low-contrast face": ramp(p95 - p5, CONTRAST_ZERO_LUMA, CONTRAST_FULL_LUMA),
    }
    word, score = min(parts.items(), key=lambda kv: kv[1])
    word = "well exposed" if score >= FLAW_BELOW_SCORE else word
    detail = f"highlights {p90:.0%}, {clipped:.0%} clipped, contrast {p95 - p5:.2f}"
    return CriterionScore("exposure", score, f"{word} ({detail})")


def _linear(srgb: float) -> float:
    return srgb / 12.92 if srgb <= 0.04045 else ((srgb + 0.055) / 1.055) ** 2.4


def lighting_criterion(crop: FaceCrop) -> CriterionScore:
    skin = crop.luma[crop.skin]
    across = crop.across[crop.skin]
    left, right = skin[across < -0.15], skin[across > 0.15]
    if left.size < 10 or right.size < 10:
        return CriterionScore("lighting", 0.5, "one side of the face hidden")
    stops = abs(math.log2((_linear(np.median(left)) + 1e-3) / (_linear(np.median(right)) + 1e-3)))
    shadow = float((skin < SHADOW_LUMA_OF_MEDIAN * float(np.median(skin))).mean())
    side_score = ramp(stops, SIDE_ZERO_STOPS, SIDE_FREE_STOPS)
    shadow_score = ramp(shadow, SHADOW_ZERO_FRACTION, SHADOW_FREE_FRACTION)
    score = min(side_score, shadow_score)
    word = "lit from one side" if side_score < shadow_score else "harsh shadows"
    word = "even light" if score >= FLAW_BELOW_SCORE else word
    detail = f"sides differ by {stops:.1f} stops, {shadow:.0%} in deep shadow"
    return CriterionScore("lighting", score, f"{word} ({detail})")


def occlusion_criterion(crop: FaceCrop) -> CriterionScore:
    """Something dark over the eyes (hair, sunglasses, a hand's shadow) or glare on glasses."""
    skin = crop.luma[crop.skin]
    eyes = crop.luma[crop.eye_area]
    if skin.size < 20 or eyes.size < 10:
        return CriterionScore("occlusion", 0.5, "eyes or skin too small to check")
    dark_ratio = float(np.mean(eyes) / max(float(np.median(skin)), 1e-3))
    grey = np.ptp(crop.rgb[crop.eye_area].astype(np.int16), axis=1) < 40
    glare = float(((eyes > GLARE_LUMA) & grey).mean() - (skin > GLARE_LUMA).mean())
    dark_score = ramp(dark_ratio, EYE_AREA_DARK_ZERO_RATIO, EYE_AREA_DARK_FULL_RATIO)
    glare_score = ramp(glare, GLARE_ZERO_FRACTION, GLARE_FREE_FRACTION)
    score = min(dark_score, glare_score)
    if score >= FLAW_BELOW_SCORE:
        reason = "eyes unobstructed"
    elif dark_score <= glare_score:
        reason = f"eyes covered or shaded (eye area {dark_ratio:.0%} as bright as the skin)"
    else:
        reason = f"glare over the eyes ({glare:.0%} of the eye area)"
    return CriterionScore("occlusion", score, reason)
