"""Videos read by the judge for comparing a render with real footage, frame by frame on one
timeline: a render as it is, and a real clip's held-out part at the render's frame rate.

Each video is read once, a frame at a time (a long clip is never held decoded): its dlib
measures, mouth vectors, identity embeddings every few frames, and the tiles a contact sheet
shows at chosen frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from quality.contact_sheet import face_tile
from quality.held_out import HeldOutSplit, clip_av_offset, split_clip
from quality.judge import FaceJudge, FaceMeasure
from quality.mouth_likeness import frame_mouth_vector, mouth_crop
from quality.reenactment import head_pose
from quality.video import JUDGE_SAMPLE_RATE_HZ, iter_frames, read_video

EMBED_EVERY_FRAMES = 5  # an identity embedding costs ~100 ms
# The photo taken from a clip: its first frame that is frontal, eyes open and lips closed.
PHOTO_MAX_ROLL_DEG, PHOTO_MAX_YAW, PHOTO_MIN_EAR_SHARE = 4.0, 0.08, 0.9


@dataclass
class JudgedVideo:
    """One video as the judge read it; frame ``i`` of the timeline at ``i / fps``."""

    measures: list[FaceMeasure | None]
    mouths: np.ndarray  # (frames, MOUTH_VECTOR_SIZE), NaN rows where no face
    embeddings: list[np.ndarray] = field(default_factory=list)  # every EMBED_EVERY_FRAMES
    tiles: dict[int, np.ndarray] = field(default_factory=dict)  # face tiles, by frame
    mouth_tiles: dict[int, np.ndarray] = field(default_factory=dict)  # aligned mouth crops
    audio: np.ndarray | None = None  # 16 kHz mono, sample 0 at frame 0 (renders only)


def judge_video(judge: FaceJudge, path: Path, tiles_at: set[int] | None = None) -> JudgedVideo:
    """Read a rendered video (already at the timeline's rate) with its audio."""
    video = read_video(path, lazy=True)
    judged = JudgedVideo([], np.zeros(0), audio=video.audio)
    mouths = []
    for i, (frame, measure) in enumerate(judge.follow(video.frames)):
        judged.measures.append(measure)
        mouths.append(frame_mouth_vector(frame, measure))
        if measure is not None and i % EMBED_EVERY_FRAMES == 0:
            judged.embeddings.append(judge.embedding(frame, measure))
        if tiles_at and i in tiles_at:
            _add_tiles(judged, i, frame, measure)
    judged.mouths = np.array(mouths)
    return judged


def add_tiles(path: Path, judged: JudgedVideo, frames: set[int]) -> None:
    """Cut the tiles of more ``frames`` out of an already judged video (decoding it again)."""
    last = max(frames, default=-1)
    for i, frame in enumerate(iter_frames(path)):
        if i > last:
            break
        if i in frames and i < len(judged.measures):
            _add_tiles(judged, i, frame, judged.measures[i])


def _add_tiles(judged: JudgedVideo, i: int, frame: np.ndarray, measure: FaceMeasure | None) -> None:
    judged.tiles[i] = face_tile(frame, measure)
    if measure is not None:
        judged.mouth_tiles[i] = mouth_crop(frame, measure.landmarks)


@dataclass
class JudgedClip:
    """A real clip read by the judge, its A/V offset undone, split; its held-out part on the
    render timeline (frame ``i`` shows held-out time ``i / timeline_fps``)."""

    path: Path
    split: HeldOutSplit
    residual_offset_frames: int  # the offset measured again once undone (0 when it is)
    held_out: JudgedVideo
    photo_frame: np.ndarray  # RGB: a frontal, closed-mouth, eyes-open frame of the enrolment part
    photo_index: int  # its clip frame
    moments: list[int]  # timeline frames whose tiles were cut


def judge_clip(
    judge: FaceJudge,
    path: Path,
    timeline_fps: float,
    *,
    max_s: float | None = None,
    moments: int = 8,
) -> JudgedClip:
    """Read a real clip (twice: all of it, then the frames whose embeddings and tiles are
    wanted) and cut it; ``moments`` frames spread over the held-out part get tiles."""
    video = read_video(path, lazy=True)
    measures: list[FaceMeasure | None] = []
    mouths = []
    for frame, measure in judge.follow(video.frames):
        measures.append(measure)
        mouths.append(frame_mouth_vector(frame, measure))
    audio_s = len(video.audio) / JUDGE_SAMPLE_RATE_HZ
    offset = clip_av_offset(measures, video.audio, video.fps)
    split = split_clip(len(measures), audio_s, video.fps, offset, max_s=max_s)
    first_sample = round(split.audio_start_s * JUDGE_SAMPLE_RATE_HZ)
    residual = clip_av_offset(measures[split.first_frame :], video.audio[first_sample:], video.fps)

    n_timeline = math.floor(split.held_out_s * timeline_fps + 1e-6)
    index = [split.held_out_index(i / timeline_fps) for i in range(n_timeline)]
    photo_index = photo_frame_index(measures, split)
    embed_at = {
        index[i] for i in range(0, n_timeline, EMBED_EVERY_FRAMES) if measures[index[i]] is not None
    }
    chosen = [round((k + 0.5) * n_timeline / moments) for k in range(moments)]
    tiles_at: dict[int, list[int]] = {}
    for i in chosen:
        tiles_at.setdefault(index[i], []).append(i)
    held_out = JudgedVideo([measures[k] for k in index], np.array([mouths[k] for k in index]))
    photo_frame = None
    for k, frame in enumerate(iter_frames(path)):
        if k == photo_index:
            photo_frame = frame
        measure = measures[k]
        if k in embed_at and measure is not None:
            held_out.embeddings.append(judge.embedding(frame, measure))
        for i in tiles_at.get(k, ()):
            _add_tiles(held_out, i, frame, measure)
        if k >= index[-1] and k >= photo_index:
            break
    if photo_frame is None:
        raise ValueError(f"{path}: frame {photo_index} could not be read again")
    return JudgedClip(path, split, residual, held_out, photo_frame, photo_index, chosen)


def photo_frame_index(measures: list[FaceMeasure | None], split: HeldOutSplit) -> int:
    """The first enrolment frame that is frontal, eyes open and lips closed (else the most
    closed of the frontal ones, else of all)."""
    span = range(split.first_frame, split.first_frame + split.enrol_frames)
    found = [(k, m) for k in span if (m := measures[k]) is not None]
    if not found:
        raise ValueError("no face in the enrolment part")
    open_ear = float(np.median([m.ear for _, m in found]))

    def frontal(m: FaceMeasure) -> bool:
        pose = head_pose(m.landmarks)
        return abs(pose.roll_deg) <= PHOTO_MAX_ROLL_DEG and abs(pose.yaw) <= PHOTO_MAX_YAW

    for k, m in found:
        if m.lips_closed and frontal(m) and m.ear >= PHOTO_MIN_EAR_SHARE * open_ear:
            return k
    return min(found, key=lambda km: km[1].aperture + (0 if frontal(km[1]) else 1))[0]
