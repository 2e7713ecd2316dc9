"""FaceMotion: the per-frame controls that drive a face, and the MotionTrack that holds them."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class FaceMotion:
    """The face's pose and expression for one video frame.

    Controls are in [0, 1] except ``mouth_stretch`` (−1 narrow … +1 wide) and gaze (−1 … +1:
    the subject looking to the image's right / down). Angles are degrees: yaw turns the face
    towards the image's right, pitch nods it down, roll tilts it clockwise.
    """

    jaw_open: float = 0.0  # the mandible drops; the lower lip and chin follow
    lip_funnel: float = 0.0  # lips flare into a rounded opening ("sh", "ch")
    lip_pucker: float = 0.0  # lips narrow and push forward ("oo", "w")
    mouth_stretch: float = 0.0  # corners pull wide (+, "ee") or in (−)
    lip_press: float = 0.0  # lips pressed together (bilabial stops)
    upper_lip_raise: float = 0.0  # upper lip lifts off the teeth
    lower_lip_tuck: float = 0.0  # lower lip rolls in under the upper teeth ("f", "v")
    tongue_tip: float = 0.0  # tongue tip visible behind the teeth ("l", "th", "t", "d", "n")
    blink: float = 0.0  # both eyelids
    brow_raise: float = 0.0
    gaze_x: float = 0.0
    gaze_y: float = 0.0
    head_yaw_deg: float = 0.0
    head_pitch_deg: float = 0.0
    head_roll_deg: float = 0.0


CONTROL_NAMES: tuple[str, ...] = tuple(f.name for f in fields(FaceMotion))


@dataclass(frozen=True)
class MotionTrack:
    """FaceMotion for every frame of a clip, stored column-wise as float32 arrays."""

    fps: float
    controls: dict[str, np.ndarray]
    # Per-frame weights of the 15 Oculus visemes (see ``motion.visemes.OCULUS_VISEMES``).
    visemes: dict[str, np.ndarray] | None = None

    def __post_init__(self) -> None:
        lengths = {len(v) for v in self.controls.values()}
        if len(lengths) > 1:
            raise ValueError(f"control tracks differ in length: {sorted(lengths)}")
        missing = set(CONTROL_NAMES) - set(self.controls)
        if missing:
            raise ValueError(f"missing controls: {sorted(missing)}")

    @property
    def n_frames(self) -> int:
        return len(self.controls[CONTROL_NAMES[0]])

    def frame(self, index: int) -> FaceMotion:
        return FaceMotion(**{name: float(self.controls[name][index]) for name in CONTROL_NAMES})

    @classmethod
    def still(cls, n_frames: int, fps: float) -> MotionTrack:
        rest = FaceMotion()
        return cls(fps, {n: np.full(n_frames, getattr(rest, n), np.float32) for n in CONTROL_NAMES})
