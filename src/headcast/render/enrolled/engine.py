"""Engine "enrolled": real frames of a person, enrolled from a video.

Each frame shows the next frame of the person's own base (their head motion and blinks,
joined across similar frames so it runs for any length); on it goes the atlas mouth that
best fits the frame's FaceMotion, moved onto the base frame's head and blended in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import cv2
import numpy as np

from headcast.enrol.mouth_frame import LOWER_FACE, apply, compose, invert
from headcast.enrol.mouth_targets import MouthTargets
from headcast.enrol.store import EnrolledAvatar, open_enrolled
from headcast.errors import InputError
from headcast.face.avatar import Avatar
from headcast.motion.face_motion import FaceMotion
from headcast.motion.head_intensity import HEAD_MOTION_DEFAULT
from headcast.motion.visemes import MOUTH_CONTROLS
from headcast.render.capabilities import EngineCapabilities, EngineKind
from headcast.render.enrolled import tunables as T
from headcast.render.enrolled.base_player import BasePlayer, BaseStep
from headcast.render.enrolled.mouth_choice import MouthChooser
from headcast.render.enrolled.mouth_paste import paste_mouth
from headcast.render.enrolled.mouth_stretch import stretch_opening


class EnrolledSession:
    def __init__(
        self, enrolled: EnrolledAvatar, size_px: int, head_motion: float, seed: int
    ) -> None:
        a = enrolled.arrays
        self._enrolled = enrolled
        self._size_px = size_px
        # The default intensity plays the recorded head as it was, lower ones steady it. Higher
        # ones play it as recorded too: the base is a whole real frame, and warping it further
        # than the person moved would shake the background and pull in its replicated border.
        self._head_kept = min(head_motion / HEAD_MOTION_DEFAULT, 1.0)
        self._kept = a["kept"]
        lower = np.searchsorted(self._kept, LOWER_FACE)
        self._base_outline = a["landmarks"][:, lower]
        self._mouth_outline = a["mouth_points"][:, lower]
        eyes = np.searchsorted(self._kept, (33, 263))
        self._iod = np.linalg.norm(a["landmarks"][:, eyes[0]] - a["landmarks"][:, eyes[1]], axis=-1)
        self._to_reference = a["to_reference"].astype(np.float64)
        self._pose = a["pose"]
        box = a["mouth_box"]
        self._crop_origin = np.array([[1.0, 0.0, float(box[0])], [0.0, 1.0, float(box[1])]])
        usable = a["usable"]
        self._player = BasePlayer(
            usable,
            a["follows"],
            a["join_to"],
            a["join_cost"],
            a["features"],
            a["speaking"],
            enrolled.fps,
            seed,
        )
        self._skin = a["skin_rgb"]
        self._targets = MouthTargets.from_arrays(a)
        self._chooser = MouthChooser(
            a["shapes"], a["pose"], self._skin, usable, a["follows"], self._targets
        )
        self._opening = a["shapes"][:, 0]
        at = {i: int(np.searchsorted(self._kept, i)) for i in (13, 14, 61, 291, 152, 33, 263)}
        crop_points: np.ndarray = a["mouth_points"] - box[:2].astype(np.float32)
        self._lips: np.ndarray = crop_points[:, [at[13], at[14]], 1]
        self._corners_x: np.ndarray = np.sort(crop_points[:, [at[61], at[291]], 0], axis=1)
        self._chin_y: np.ndarray = crop_points[:, at[152], 1]
        self._iod_reference = np.linalg.norm(
            a["mouth_points"][:, at[33]] - a["mouth_points"][:, at[263]], axis=-1
        )
        self._recent_jaw: list[float] = []
        self._window = max(int(T.SPEAKING_WINDOW_S * enrolled.fps), 1)
        # Frames planned ahead: their motion, base step and mouth, in order.
        self._planned: deque[tuple[FaceMotion, BaseStep, int]] = deque()
        self.last_step: BaseStep | None = None  # what the last frame showed of the base

    def _base_step(self, motion: FaceMotion) -> BaseStep:
        self._recent_jaw = [
            *self._recent_jaw[-(self._window - 1) :],
            motion.jaw_open + motion.lip_press,
        ]
        return self._player.step(max(self._recent_jaw) > T.SPEAKING_JAW_OPEN)

    def plan(self, motions: Sequence[FaceMotion]) -> None:
        """Plan the frames about to be rendered (in order, after those planned already): their
        mouths become the best path over the run rather than a choice frame by frame."""
        if not motions:
            return
        steps = [self._base_step(m) for m in motions]
        controls = np.array(
            [[getattr(m, name) for name in MOUTH_CONTROLS] for m in motions], np.float32
        )
        mouths = self._chooser.choose_path(controls, np.array([s.index for s in steps]))
        self._planned.extend(zip(motions, steps, mouths, strict=True))

    def render(self, motion: FaceMotion) -> np.ndarray:
        controls = np.array([getattr(motion, name) for name in MOUTH_CONTROLS], np.float32)
        if self._planned and self._planned[0][0] is motion:
            _, step, mouth = self._planned.popleft()
        else:
            self._planned.clear()
            step = self._base_step(motion)
            mouth = self._chooser.choose(controls, step.index)
        self.last_step = step
        b = step.index
        base = self._enrolled.base.image(b)
        if step.fading_from is not None:
            old = self._enrolled.base.image(step.fading_from)
            base = cv2.addWeighted(old, step.fade_weight, base, 1.0 - step.fade_weight, 0.0)
        from_reference = invert(self._to_reference[b])
        outline = self._base_outline[b]
        if self._head_kept < 1.0:
            # Part of the way back to the representative frame's pose and place.
            kept = self._head_kept
            steady = (1.0 - kept) * self._to_reference[b] + kept * np.eye(2, 3)
            base = cv2.warpAffine(
                base,
                steady,
                base.shape[1::-1],
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            from_reference = compose(steady, from_reference)
            outline = apply(steady, outline)
        crop, crop_outline = self._mouth(mouth, controls)
        frame = paste_mouth(
            base,
            crop,
            compose(from_reference, self._crop_origin),
            apply(from_reference, crop_outline),
            outline,
            float(self._iod[b]),
            self._skin[b] - self._skin[mouth],
        )
        if frame.shape[0] != self._size_px:
            shrink = frame.shape[0] > self._size_px
            frame = cv2.resize(
                frame,
                (self._size_px, self._size_px),
                interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR,
            )
        return frame

    def _mouth(self, mouth: int, controls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The atlas crop of ``mouth`` and its lower-face outline (in the common mouth frame),
        opened further by a warp when the motion asks more than it shows."""
        crop = self._enrolled.mouths.image(mouth)
        outline = self._mouth_outline[mouth]
        wanted = float(self._targets(controls[None, :])[0, 0])
        short = wanted - float(self._opening[mouth])
        if short <= T.STRETCH_MIN_IOD:
            return crop, outline
        origin = self._crop_origin[:, 2].astype(np.float32)
        drop = min(short, T.STRETCH_MAX_IOD) * float(self._iod_reference[mouth])
        crop, moved = stretch_opening(
            crop,
            outline - origin,
            (float(self._lips[mouth, 0]), float(self._lips[mouth, 1])),
            (float(self._corners_x[mouth, 0]), float(self._corners_x[mouth, 1])),
            float(self._chin_y[mouth]),
            drop,
        )
        return crop, moved + origin

    def close(self) -> None:
        pass


def base_joins(avatar: Avatar, motions: Sequence[FaceMotion]) -> list[int]:
    """The frames at which a render of ``motions`` on the enrolled ``avatar`` crosses from one
    stretch of its base to another (where the crossfade starts), for inspection: the base
    steps depend on the motion alone, so they are found without drawing a frame."""
    if avatar.enrolment is None:
        raise InputError("only an enrolled avatar has a base")
    session = EnrolledSession(
        open_enrolled(avatar.enrolment), avatar.size_px, HEAD_MOTION_DEFAULT, seed=0
    )
    joins = []
    for index, motion in enumerate(motions):
        step = session._base_step(motion)
        if step.joined:
            joins.append(index)
    return joins


class EnrolledEngine:
    """Engine "enrolled": the person's own frames, with mouths from their own clip."""

    name = "enrolled"
    capabilities = EngineCapabilities(
        kind=EngineKind.MOTION,
        live=True,
        first_frame_latency_ms=8.0,
        description="real frames of a person enrolled from a video (headcast enrol)",
    )

    def start(self, avatar: Avatar) -> EnrolledSession:
        if avatar.enrolment is None:
            raise InputError(
                "engine 'enrolled' draws from an enrolled avatar, not a photo: enrol a video "
                "of the person first (headcast enrol VIDEO -o NAME) and name it instead"
            )
        enrolled = open_enrolled(avatar.enrolment)
        return EnrolledSession(enrolled, avatar.size_px, avatar.head_motion, seed=0)
