"""``enrol_video``: a clip of a person becomes an enrolled avatar, analysed once.

Passes over the clip: faces are searched on sampled frames (refusing clips with none, several,
or one too small) and the framing fixed; every frame is framed, tracked and stored; the lower
face of every frame is cut into the common mouth frame and measured; the clip's speech labels
the frames; the base graph is built; the coverage report says what the avatar holds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from headcast import settings
from headcast.audio.decode import is_silent
from headcast.enrol import tunables as T
from headcast.enrol.base_graph import base_features, build_base_graph
from headcast.enrol.coverage import CoverageReport, coverage_report
from headcast.enrol.face_track import ANCHORS, Pose, find_face, head_pose, stabilise, tracked_frames
from headcast.enrol.mouth_frame import LOWER_FACE, MouthBox, apply, cut_mouth, similarity
from headcast.enrol.mouth_shape import (
    INNER_LIP_LOOP,
    OUTER_LIP_LOOP,
    inside_of_mouth,
    shape_of,
    skin_colour,
)
from headcast.enrol.mouth_targets import mouth_targets
from headcast.enrol.speech_labels import speech_labels
from headcast.enrol.store import (
    ARRAYS_FILE,
    BASE_FILE,
    MOUTHS_FILE,
    PORTRAIT_FILE,
    BlobReader,
    BlobWriter,
    StagedFolder,
    folder_for,
    write_meta,
)
from headcast.enrol.video_input import VideoClip
from headcast.errors import InputError
from headcast.face import regions
from headcast.face.framing import Framing
from headcast.limits import MAX_SIZE_PX, MIN_SIZE_PX

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
# Shares of the progress bar: searching faces, tracking, cutting mouths (the rest is quick).
_SEARCH, _TRACK, _MOUTHS = 0.15, 0.6, 0.2

# The landmarks kept per frame: those the renderer aligns, blends and measures with.
KEPT: tuple[int, ...] = tuple(
    sorted({*ANCHORS, *LOWER_FACE, *INNER_LIP_LOOP, *regions.OUTER_LIP_LOOP, 13, 14, 0, 17})
)


@dataclass(frozen=True)
class EnrolmentResult:
    path: Path
    report: CoverageReport


def enrol_video(
    video: str | Path | bytes,
    output: str | Path,
    *,
    transcript: str | None = None,
    size_px: int = 512,
    max_duration_s: float | None = None,
    progress: Progress | None = None,
) -> EnrolmentResult:
    """Analyse ``video`` once and store the enrolled avatar at ``output`` (a name in the
    avatar cache, or a folder path). InputError names what is wrong with a clip that cannot
    be enrolled; nothing is left behind then. ``max_duration_s`` None is the
    HEADCAST_MAX_ENROL_S setting (10 minutes unless set)."""
    if not MIN_SIZE_PX <= size_px <= MAX_SIZE_PX or size_px % 2:
        raise InputError(f"size must be an even number of pixels, {MIN_SIZE_PX}–{MAX_SIZE_PX}")
    final = folder_for(output)
    if max_duration_s is None:
        max_duration_s = settings.max_enrol_s()
    clip = VideoClip(video, max_duration_s=max_duration_s)
    steps = max(int(clip.info.duration_s * clip.info.fps), 1)
    tick = _Ticker(progress, steps)
    search = find_face(clip, size_px)
    tick.to(_SEARCH)
    staged = StagedFolder(final)
    try:
        report = _enrol_into(staged.path, clip, search.framing, size_px, transcript, tick)
        write_meta(
            staged.path,
            {
                "name": final.name,
                "created_at": time.time(),
                "size_px": size_px,
                "fps": clip.info.fps,
                "source": {
                    "name": _source_name(video),
                    "width": clip.info.width,
                    "height": clip.info.height,
                    "duration_s": clip.info.duration_s,
                },
                "report": report.as_dict(),
            },
        )
        staged.commit()
    except BaseException:
        staged.discard()
        raise
    tick.to(1.0)
    return EnrolmentResult(final, report)


def _enrol_into(
    folder: Path,
    clip: VideoClip,
    framing: Framing,
    size_px: int,
    transcript: str | None,
    tick: _Ticker,
) -> CoverageReport:
    fps = clip.info.fps
    base = BlobWriter(folder / BASE_FILE, ".webp", T.BASE_WEBP_QUALITY)
    rows: list[np.ndarray | None] = []
    changes: list[float] = [np.inf]  # how much each frame differs from the one before
    thumb = None
    try:
        for framed, points in tracked_frames(clip, framing, size_px):
            base.add(framed)
            rows.append(points)
            small = cv2.resize(
                cv2.cvtColor(framed, cv2.COLOR_RGB2GRAY), (64, 64), interpolation=cv2.INTER_AREA
            ).astype(np.float32)
            if thumb is not None:
                changes.append(float(np.abs(small - thumb).mean()))
            thumb = small
            tick.within(_SEARCH, _TRACK, len(rows))
    finally:
        base.close()
    n = len(rows)
    found = np.array([r is not None for r in rows])
    landmarks = np.full((n, 478, 3), np.nan, np.float32)
    for i, r in enumerate(rows):
        if r is not None:
            landmarks[i] = r
    del rows
    follows = _follows(np.asarray(changes))
    landmarks = stabilise(landmarks, found, follows)
    # Frames where the face was lost hold zeros where their numbers are computed; they are
    # never usable.
    filled = np.nan_to_num(landmarks)
    pose = head_pose(filled)
    usable = found & _inside(landmarks, size_px)
    if usable.any():
        yaw0, pitch0 = np.median(pose.yaw_deg[usable]), np.median(pose.pitch_deg[usable])
        usable &= np.abs(pose.yaw_deg - yaw0) <= T.MAX_YAW_FROM_MEDIAN_DEG
        usable &= np.abs(pose.pitch_deg - pitch0) <= T.MAX_PITCH_FROM_MEDIAN_DEG
    if usable.sum() / fps < T.MIN_USABLE_S:
        raise InputError(
            f"{clip.info.name}: only {usable.sum() / fps:.1f} s of frames show the face well "
            f"enough; at least {T.MIN_USABLE_S:.0f} s are needed"
        )

    shapes4 = np.nan_to_num(shape_of(filled))
    features = base_features(filled, pose)
    reference = _reference_frame(features, shapes4, pose, usable)
    ref_anchors = landmarks[reference, list(ANCHORS), :2]
    to_reference = np.zeros((n, 2, 3), np.float32)
    for i in np.flatnonzero(found):
        to_reference[i] = similarity(landmarks[i, list(ANCHORS), :2], ref_anchors)
    box = MouthBox.around(landmarks[reference], size_px)

    shapes = np.zeros((n, 6), np.float32)
    shapes[:, :4] = shapes4
    mouth_points = np.zeros((n, len(KEPT), 2), np.float32)
    skin = np.zeros((n, 3), np.float32)
    reader = BlobReader(folder / BASE_FILE, np.asarray(base.offsets, np.int64))
    mouths = BlobWriter(folder / MOUTHS_FILE, ".jpg", T.MOUTH_JPEG_QUALITY)
    try:
        for i in range(n):
            if found[i]:
                crop = cut_mouth(reader.image(i), to_reference[i], box)
                in_ref = apply(to_reference[i], landmarks[i, :, :2])
                mouth_points[i] = in_ref[list(KEPT)]
                origin = (box.x0, box.y0)
                shapes[i, 4:] = inside_of_mouth(crop, in_ref[list(INNER_LIP_LOOP)] - origin)
                skin[i] = skin_colour(
                    crop, in_ref[list(LOWER_FACE)] - origin, in_ref[list(OUTER_LIP_LOOP)] - origin
                )
            else:
                crop = np.zeros((box.height, box.width, 3), np.uint8)
            mouths.add(crop)
            tick.within(_SEARCH + _TRACK, _MOUTHS, i + 1, n)
        portrait = reader.image(reference)
    finally:
        mouths.close()
        reader.close()
    cv2.imwrite(str(folder / PORTRAIT_FILE), cv2.cvtColor(portrait, cv2.COLOR_RGB2BGR))

    labels = None
    audio = clip.audio()
    if audio is not None and not is_silent(audio):
        opening = np.where(usable, shapes[:, 0], np.nan)
        labels = speech_labels(audio, fps, n, opening, transcript)
    targets = mouth_targets(
        labels.controls[usable] if labels is not None else None,
        shapes[usable],
        labels.speaking[usable] if labels is not None else None,
    )
    graph = build_base_graph(features, usable, follows, fps)
    report = coverage_report(
        duration_s=n / fps,
        fps=fps,
        usable=usable,
        shapes=shapes,
        visemes=labels.visemes if labels is not None else None,
        av_offset_s=labels.offset_s if labels is not None else 0.0,
    )
    np.savez_compressed(
        folder / ARRAYS_FILE,
        landmarks=filled[:, list(KEPT), :2],
        kept=np.asarray(KEPT, np.int32),
        mouth_points=mouth_points,
        to_reference=to_reference,
        usable=usable,
        follows=follows,
        shapes=shapes,
        skin_rgb=skin,
        pose=np.column_stack([pose.yaw_deg, pose.pitch_deg, pose.roll_deg]).astype(np.float32),
        speaking=labels.speaking if labels is not None else np.zeros(n, bool),
        visemes=labels.visemes if labels is not None else np.zeros(n, np.int8),
        features=features,
        join_to=graph.join_to,
        join_cost=graph.join_cost,
        mouth_box=box.as_array(),
        reference=np.int32(reference),
        base_offsets=np.asarray(base.offsets, np.int64),
        mouth_offsets=np.asarray(mouths.offsets, np.int64),
        **targets.as_arrays(),
    )
    return report


def _follows(changes: np.ndarray) -> np.ndarray:
    """Which frames carry on from the one before: not the first, nor one after a cut. A cut
    is a lone spike of change: far beyond the changes of the frames around it (fast motion,
    and frames a rate conversion doubled, change a lot for several frames running)."""
    n = len(changes)
    known = np.where(np.isfinite(changes), changes, 0.0)
    padded = np.concatenate([np.zeros(2), known, np.zeros(2)])
    around = np.maximum.reduce(
        [padded[0:n], padded[1 : n + 1], padded[3 : n + 3], padded[4 : n + 4]]
    )
    cut = (known >= T.CUT_CHANGE_RATIO * around) & (known >= T.CUT_MIN_CHANGE)
    return np.isfinite(changes) & ~cut


def _inside(landmarks: np.ndarray, size_px: int) -> np.ndarray:
    xy = np.nan_to_num(landmarks[..., :2], nan=-1.0)
    return ((xy >= 0) & (xy < size_px)).all(axis=(1, 2))


def _reference_frame(
    features: np.ndarray, shapes: np.ndarray, pose: Pose, usable: np.ndarray
) -> int:
    """A usable frame near the clip's median pose and place, eyes open, lips together."""
    candidates = np.flatnonzero(usable)
    f = features[candidates]
    typical = np.median(f[:, :6], axis=0)
    cost = np.linalg.norm(f[:, :6] - typical, axis=1)
    eyes = f[:, -2:].sum(1)
    cost += 2.0 * (eyes < np.quantile(eyes, 0.5))
    opening = shapes[candidates, 0]
    cost += 2.0 * (opening > np.quantile(opening, 0.2))
    return int(candidates[int(np.argmin(cost))])


def _source_name(video: object) -> str:
    return Path(video).name if isinstance(video, str | Path) else "video"


class _Ticker:
    def __init__(self, progress: Progress | None, steps: int) -> None:
        self.progress = progress
        self.steps = steps

    def to(self, share: float) -> None:
        if self.progress is not None:
            self.progress(int(round(share * self.steps)), self.steps)

    def within(self, start: float, span: float, done: int, total: int | None = None) -> None:
        total = total or self.steps
        if self.progress is not None and done % 10 == 0:
            share = start + span * min(done / max(total, 1), 1.0)
            self.progress(min(int(share * self.steps), self.steps), self.steps)
