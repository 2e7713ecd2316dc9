"""The clip shipped to enrol, and the bad clips built from it, decoded for real."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import pytest

from headcast.face.landmarks import detect_faces
from tests.support.enrol_clips import (
    GRID_TRANSCRIPT,
    SHORT_CLIP_S,
    clip_too_short,
    clip_with_small_face,
    clip_with_two_faces,
    clip_without_face,
    grid_clip,
)

SAMPLED_FRAMES = (0, 90, 187, 300, 374)  # across the five joined sentences


@dataclass
class Decoded:
    video_codec: str
    audio_codec: str
    width: int
    height: int
    fps: float
    frames: int
    audio_s: float
    samples: dict[int, np.ndarray] = field(repr=False)  # frame index -> RGB


def decode(path: Path) -> Decoded:
    """Every frame and all the audio of ``path``, keeping only ``SAMPLED_FRAMES``."""
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        samples, frames = {}, 0
        for index, frame in enumerate(container.decode(video)):
            frames += 1
            if index in SAMPLED_FRAMES:
                samples[index] = frame.to_ndarray(format="rgb24")
        header = (video.codec_context.name, audio.codec_context.name, video.width, video.height)
        fps = float(video.average_rate or 0)
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        audio_s = sum(f.samples for f in container.decode(stream)) / stream.sample_rate
    return Decoded(*header, fps, frames, audio_s, samples)


def face_counts(clip: Decoded) -> list[int]:
    return [len(detect_faces(rgb)) for rgb in clip.samples.values()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("enrol-inputs")


def test_shipped_clip_is_one_speaker_talking_for_15_s() -> None:
    path = grid_clip()
    assert path.stat().st_size < 1_500_000
    clip = decode(path)
    assert (clip.video_codec, clip.audio_codec) == ("h264", "aac")
    assert (clip.width, clip.height, clip.fps, clip.frames) == (360, 288, 25.0, 375)
    assert clip.audio_s == pytest.approx(15.0, abs=0.1)
    assert face_counts(clip) == [1] * len(SAMPLED_FRAMES)
    assert len(GRID_TRANSCRIPT.split()) == 5 * 6  # GRID sentences are six words


def test_speech_fills_the_shipped_clip() -> None:
    # Each sentence is spoken between silences: the sound must be loud in every 3 s stretch.
    with av.open(str(grid_clip())) as container:
        audio = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    rate = 16_000
    rms = [float(np.sqrt(np.mean(audio[i * 3 * rate : (i + 1) * 3 * rate] ** 2))) for i in range(5)]
    assert min(rms) > 0.02, rms


def test_clip_without_face_has_none(built: Path) -> None:
    clip = decode(clip_without_face(built))
    assert (clip.width, clip.height, clip.frames) == (240, 320, 375)
    assert clip.audio_s == pytest.approx(15.0, abs=0.1)
    assert face_counts(clip) == [0] * len(SAMPLED_FRAMES)


def test_clip_with_two_faces_shows_both(built: Path) -> None:
    clip = decode(clip_with_two_faces(built))
    assert (clip.width, clip.height, clip.frames) == (720, 288, 375)
    assert face_counts(clip) == [2] * len(SAMPLED_FRAMES)
    faces = detect_faces(clip.samples[187])
    centres = sorted((f.box[0] + f.box[2]) / 2 for f in faces)
    assert centres[0] < 360 < centres[1]


def test_clip_with_small_face_keeps_it_findable_but_small(built: Path) -> None:
    clip = decode(clip_with_small_face(built))
    assert (clip.width, clip.height, clip.frames) == (720, 576, 375)
    for rgb in clip.samples.values():
        faces = detect_faces(rgb)
        assert len(faces) == 1
        assert 30 < faces[0].height_px < 60  # ~130 px in the shipped clip
    assert clip.audio_s == pytest.approx(15.0, abs=0.1)


def test_short_clip_stops_under_5_s(built: Path) -> None:
    clip = decode(clip_too_short(built))
    assert (clip.width, clip.height) == (360, 288)
    assert clip.frames == round(SHORT_CLIP_S * 25)
    assert clip.audio_s == pytest.approx(SHORT_CLIP_S, abs=0.1)
    assert face_counts(clip) == [1] * sum(i < clip.frames for i in SAMPLED_FRAMES)
