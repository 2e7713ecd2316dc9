"""FaceMotion: the per-frame controls that drive a face, and the MotionTrack that holds them."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class FaceMotion:
    """The face's pose and expression for one video frame.

    Mouth controls are in [0, 1] except ``mouth_stretch`` (−1 narrow … +1 wide). Angles are
    degrees (yaw right-positive, pitch down-positive, roll clockwise-positive).
    """

    jaw_open: float = 0.0
    lip_press: float = 0.0  # lips pressed together (bilabial stops)
    mouth_stretch: float = 0.0
    lip_pucker: float = 0.0
    blink: float = 0.0
    head_yaw_deg: float = 0.0
    head_pitch_deg: float = 0.0
    head_roll_deg: float = 0.0


CONTROL_NAMES: tuple[str, ...] = tuple(f.name for f in fields(FaceMotion))


@dataclass(frozen=True)
class MotionTrack:
    """FaceMotion for every frame of a clip, stored column-wise as float32 arrays."""

    fps: float
    controls: dict[str, np.ndarray]

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
