"""Finding the one face of a clip, framing it once for the whole clip, and tracking its
landmarks on every frame (the same MediaPipe mesh a photo gets, in its tracking mode)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d

from headcast.enrol import tunables as T
from headcast.enrol.video_input import VideoClip
from headcast.errors import InputError
from headcast.face import regions
from headcast.face.framing import (
    CROP_TO_FACE_HEIGHT_RATIO,
    FACE_CENTRE_BELOW_MIDDLE_RATIO,
    Framing,
    crop_framed,
)
from headcast.face.landmarks import MIN_DETECTION_CONFIDENCE, detect_faces
from headcast.face.native_log import quiet_native_stderr

# Points that move with the skull and not with the jaw, lids or lips: eye corners, the
# nose and the sides of the face at the eyes. Frames are aligned on them.
ANCHORS = (33, 133, 362, 263, 168, 6, 197, 1, 2, 98, 327, 234, 454)
_LIPS = tuple(
    sorted(
        {
            *(i for ring in regions.UPPER_LIP_RINGS for i in ring),
            *(i for ring in regions.LOWER_LIP_RINGS for i in ring),
            *regions.MOUTH_CORNERS_LEFT,
            *regions.MOUTH_CORNERS_RIGHT,
        }
    )
)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class FaceSearch:
    """What the sampled frames showed: where to frame the face, and how many faces there were."""

    framing: Framing
    face_height_px: float
    sampled: int


def find_face(clip: VideoClip, size_px: int) -> FaceSearch:
    """Search sampled frames for faces; refuse a clip with none, several, or one too small."""
    every = max(int(round(T.DETECT_EVERY_S * clip.info.fps)), 1)
    boxes: list[tuple[float, float, float, float]] = []
    sampled = several = 0
    for index, frame in enumerate(clip.frames()):
        if index % every:
            continue
        sampled += 1
        faces = detect_faces(frame)
        if not faces:
            continue
        big = [f for f in faces if f.area_px >= T.SECOND_FACE_AREA_RATIO * faces[0].area_px]
        several += len(big) > 1
        boxes.append(faces[0].box)
    name = clip.info.name
    if sampled == 0:
        raise InputError(f"{name}: no frames could be read")
    if len(boxes) < T.FACE_FOUND_MIN_SHARE * sampled:
        raise InputError(
            f"{name}: no face found in {sampled - len(boxes)} of {sampled} sampled frames; "
            "enrol a clip of one person facing the camera"
        )
    if several >= T.SEVERAL_FACES_MIN_SHARE * sampled:
        raise InputError(
            f"{name}: several faces in {several} of {sampled} sampled frames; "
            "enrol a clip of one person"
        )
    box = np.median(np.asarray(boxes), axis=0)
    height = float(box[3] - box[1])
    if height < T.MIN_FACE_HEIGHT_PX:
        raise InputError(
            f"{name}: the face is too small ({height:.0f} px tall; at least "
            f"{T.MIN_FACE_HEIGHT_PX} px needed): film closer or at a higher resolution"
        )
    return FaceSearch(_framing(box, clip.info.width, clip.info.height, size_px), height, sampled)


def _framing(box: np.ndarray, width: int, height: int, size_px: int) -> Framing:
    """The photo path's head-and-shoulders square, around the clip's median face box."""
    x0, y0, x1, y1 = (float(v) for v in box)
    side = min(CROP_TO_FACE_HEIGHT_RATIO * (y1 - y0), float(width), float(height))
    centre_x = 0.5 * (x0 + x1)
    centre_y = 0.5 * (y0 + y1) + FACE_CENTRE_BELOW_MIDDLE_RATIO * side
    left = float(np.clip(centre_x - side / 2, 0.0, width - side))
    top = float(np.clip(centre_y - side / 2, 0.0, height - side))
    return Framing(x0=left, y0=top, side_px=side, scale=size_px / side)


class _MeshTracker:
    """MediaPipe's face mesh in video mode: it follows the face from frame to frame."""

    def __init__(self) -> None:
        from mediapipe.python.solutions import face_mesh

        with quiet_native_stderr():
            self._mesh: Any = face_mesh.FaceMesh(
                static_image_mode=False,
                refine_landmarks=True,
                max_num_faces=1,
                min_detection_confidence=MIN_DETECTION_CONFIDENCE,
                min_tracking_confidence=MIN_DETECTION_CONFIDENCE,
            )
            # Its graph starts on threads that log as they start: one frame waits for them.
            self._mesh.process(np.zeros((64, 64, 3), np.uint8))

    def points(self, image_rgb: np.ndarray) -> np.ndarray | None:
        with quiet_native_stderr():
            result = self._mesh.process(np.ascontiguousarray(image_rgb))
        if not result.multi_face_landmarks:
            return None
        h, w = image_rgb.shape[:2]
        lm = result.multi_face_landmarks[0].landmark
        return np.array([(p.x * w, p.y * h, p.z * w) for p in lm], np.float32)

    def close(self) -> None:
        self._mesh.close()


def tracked_frames(
    clip: VideoClip, framing: Framing, size_px: int
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Every frame framed to ``size_px`` with its landmarks (None where the face was lost)."""
    tracker = _MeshTracker()
    try:
        for frame in clip.frames():
            framed = crop_framed(frame, framing, size_px)
            yield framed, tracker.points(framed)
    finally:
        tracker.close()


@dataclass(frozen=True)
class Pose:
    """Per-frame head pose estimated from landmarks, relative to the clip's median face."""

    yaw_deg: np.ndarray
    pitch_deg: np.ndarray
    roll_deg: np.ndarray


def head_pose(landmarks: np.ndarray) -> Pose:
    """Yaw from the nose tip's place between the face sides, pitch from its height between
    the eyes and the chin, roll from the eye line: (n, 478, ≥2) → degrees per frame."""
    xy = landmarks[..., :2]
    left_side, right_side = xy[:, 454], xy[:, 234]
    nose = xy[:, 1]
    across = left_side[:, 0] - right_side[:, 0]
    yaw_share = (nose[:, 0] - right_side[:, 0]) / np.maximum(across, 1e-6) - 0.5
    eyes = 0.5 * (xy[:, 33] + xy[:, 263])
    chin = xy[:, regions.CHIN]
    pitch_share = (nose[:, 1] - eyes[:, 1]) / np.maximum(chin[:, 1] - eyes[:, 1], 1e-6)
    eye_line = xy[:, 263] - xy[:, 33]
    roll = np.degrees(np.arctan2(eye_line[:, 1], eye_line[:, 0]))
    # A share of 0.5 across the face is about 90° of turn; nodding moves the nose about half
    # as far along the eyes-to-chin line.
    yaw = np.degrees(np.arcsin(np.clip(2 * yaw_share, -1, 1)))
    pitch = np.degrees(np.arcsin(np.clip(2 * (pitch_share - np.median(pitch_share)), -1, 1)))
    return Pose(yaw, pitch, roll)


def stabilise(landmarks: np.ndarray, found: np.ndarray, follows: np.ndarray) -> np.ndarray:
    """Landmarks smoothed over time within each run of tracked frames, never across a frame
    lost or a cut (``follows`` False): the skull's points more, the lips little (a closure of
    two frames must survive)."""
    out = landmarks.copy()
    sigma = np.full(landmarks.shape[1], T.ANCHOR_SMOOTHING_FRAMES, np.float32)
    sigma[list(_LIPS)] = T.LIP_SMOOTHING_FRAMES
    for start, stop in _runs(found, follows):
        if stop - start < 3:
            continue
        run = landmarks[start:stop]
        for value in np.unique(sigma):
            cols = np.flatnonzero(sigma == value)
            out[start:stop, cols] = gaussian_filter1d(run[:, cols], value, axis=0, mode="nearest")
    return out


def _runs(found: np.ndarray, follows: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of found frames that each carry on from the one before."""
    starts = found & ~(np.concatenate([[False], found[:-1]]) & follows)
    stops = found & ~(np.concatenate([found[1:], [False]]) & np.concatenate([follows[1:], [False]]))
    return list(
        zip(np.flatnonzero(starts).tolist(), (np.flatnonzero(stops) + 1).tolist(), strict=True)
    )
