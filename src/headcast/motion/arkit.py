"""headcast's face controls as Apple ARKit's 52 blendshapes (and head / eye rotations).

ARKit names each blendshape in camelCase (``jawOpen``); Left and Right are the subject's own
sides. Every coefficient is in [0, 1]. The mapping is a retarget, not a capture: controls
headcast has no equivalent for (smiles, frowns, cheeks, nose) stay 0.
"""

from __future__ import annotations

import math

import numpy as np

from headcast.motion.face_motion import CONTROL_NAMES, MotionTrack

ARKIT_BLENDSHAPES: tuple[str, ...] = (
    # left eye, right eye
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight",
    # jaw and mouth
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    # brows, cheeks, nose, tongue
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)  # fmt: skip
"""The 52 ARKit blendshape locations, in the order of Apple's ARBlendShapeLocation list."""

ROTATION_NAMES: tuple[str, ...] = (
    "HeadYaw", "HeadPitch", "HeadRoll",
    "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)  # fmt: skip
"""Rotation channels that Live Link Face records after the blendshapes (radians)."""

EYE_YAW_RANGE_DEG = 30.0
"""Eye yaw at full sideways gaze (gaze_x = ±1)."""

EYE_PITCH_RANGE_DEG = 20.0
"""Eye pitch at full vertical gaze (gaze_y = ±1)."""

# Share of a control carried onto the secondary blendshapes it moves.
_LOWER_LIP_WITH_JAW = 0.35  # the lower lip drops with the jaw, unless the lips press
_PRESS_SHARE = 0.6
_CHIN_WITH_PRESS = 0.3  # pressing the lips raises the chin a little (mouthShrugLower)
_UPPER_LIP_WITH_TUCK = 0.3  # "f"/"v": the upper lip lifts slightly off the tucked lower lip
_NARROW_TO_PUCKER = 0.5  # a narrowed mouth (mouth_stretch < 0) reads as a slight pucker
_STRETCH_SHARE = 0.7
_TONGUE_OUT_SHARE = 0.4  # tongue_tip shows behind the teeth; only "th" pushes it out
_OUTER_BROW_SHARE = 0.8
_EYE_WIDE_WITH_BROW = 0.3


def _control(motion: MotionTrack, name: str) -> np.ndarray:
    return np.asarray(motion.controls[name], dtype=np.float32)


def arkit_weights(motion: MotionTrack) -> dict[str, np.ndarray]:
    """The 52 ARKit blendshape coefficients of every frame: float32 arrays in [0, 1]."""
    c = {name: _control(motion, name) for name in CONTROL_NAMES}
    zero = np.zeros(motion.n_frames, np.float32)
    jaw, press = c["jaw_open"], c["lip_press"]
    stretch, tuck = c["mouth_stretch"], c["lower_lip_tuck"]
    gaze_x, gaze_y = c["gaze_x"], c["gaze_y"]
    right_of_image, left_of_image = np.maximum(gaze_x, 0), np.maximum(-gaze_x, 0)
    down, up = np.maximum(gaze_y, 0), np.maximum(-gaze_y, 0)
    wide = np.maximum(stretch, 0) * _STRETCH_SHARE
    upper_up = np.maximum(c["upper_lip_raise"], _UPPER_LIP_WITH_TUCK * tuck)
    lower_down = _LOWER_LIP_WITH_JAW * jaw * (1 - press)
    outer_brow = _OUTER_BROW_SHARE * c["brow_raise"]
    out = {name: zero for name in ARKIT_BLENDSHAPES}
    out.update(
        {
            "eyeBlinkLeft": c["blink"],
            "eyeBlinkRight": c["blink"],
            # Looking towards the image's right is looking to the subject's left: out for the
            # left eye, in (towards the nose) for the right eye.
            "eyeLookOutLeft": right_of_image,
            "eyeLookInRight": right_of_image,
            "eyeLookInLeft": left_of_image,
            "eyeLookOutRight": left_of_image,
            "eyeLookDownLeft": down,
            "eyeLookDownRight": down,
            "eyeLookUpLeft": up,
            "eyeLookUpRight": up,
            "eyeWideLeft": _EYE_WIDE_WITH_BROW * c["brow_raise"],
            "eyeWideRight": _EYE_WIDE_WITH_BROW * c["brow_raise"],
            "jawOpen": jaw,
            # mouthClose closes the lips against an open jaw, so it never exceeds jawOpen.
            "mouthClose": np.minimum(press, jaw),
            "mouthFunnel": c["lip_funnel"],
            "mouthPucker": np.maximum(c["lip_pucker"], _NARROW_TO_PUCKER * np.maximum(-stretch, 0)),
            "mouthStretchLeft": wide,
            "mouthStretchRight": wide,
            "mouthRollLower": tuck,
            "mouthShrugLower": _CHIN_WITH_PRESS * press,
            "mouthPressLeft": _PRESS_SHARE * press,
            "mouthPressRight": _PRESS_SHARE * press,
            "mouthLowerDownLeft": lower_down,
            "mouthLowerDownRight": lower_down,
            "mouthUpperUpLeft": upper_up,
            "mouthUpperUpRight": upper_up,
            "browInnerUp": c["brow_raise"],
            "browOuterUpLeft": outer_brow,
            "browOuterUpRight": outer_brow,
            "tongueOut": _TONGUE_OUT_SHARE * c["tongue_tip"],
        }
    )
    return {
        name: np.clip(np.nan_to_num(out[name]), 0.0, 1.0).astype(np.float32)
        for name in ARKIT_BLENDSHAPES
    }


def arkit_rotations(motion: MotionTrack) -> dict[str, np.ndarray]:
    """Head and eye rotations of every frame in radians, named as Live Link Face's columns.

    Head angles are headcast's: yaw turns the face towards the image's right, pitch nods it
    down, roll tilts it clockwise (as the viewer sees it). Eye yaw is positive towards the
    image's right, eye pitch positive downwards; eyes do not roll.
    """
    rad = math.pi / 180.0
    eye_yaw = _control(motion, "gaze_x") * (EYE_YAW_RANGE_DEG * rad)
    eye_pitch = _control(motion, "gaze_y") * (EYE_PITCH_RANGE_DEG * rad)
    zero = np.zeros(motion.n_frames, np.float32)
    values = {
        "HeadYaw": _control(motion, "head_yaw_deg") * rad,
        "HeadPitch": _control(motion, "head_pitch_deg") * rad,
        "HeadRoll": _control(motion, "head_roll_deg") * rad,
        "LeftEyeYaw": eye_yaw,
        "LeftEyePitch": eye_pitch,
        "LeftEyeRoll": zero,
        "RightEyeYaw": eye_yaw,
        "RightEyePitch": eye_pitch,
        "RightEyeRoll": zero,
    }
    return {name: np.nan_to_num(values[name]).astype(np.float32) for name in ROTATION_NAMES}
