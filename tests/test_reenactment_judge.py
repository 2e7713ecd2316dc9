"""The self-reenactment judge on real footage: mouth likeness, a clip's own A/V offset, head
motion and blinks (skipped where the clip cache lacks the clips)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest

from quality.held_out import clip_av_offset, split_clip
from quality.judge import FaceJudge, FaceMeasure
from quality.mouth_likeness import (
    frame_mouth_vector,
    mouth_crop,
    mouth_likeness,
    mouth_vector,
    nearest_distances,
)
from quality.reenactment import aperture_correlation, blinks, head_motion
from quality.video import read_video
from tests.support.talking_clips import talking_clip

PART_S = 16.0


@dataclass
class Part:
    fps: float
    measures: list[FaceMeasure | None]
    mouths: np.ndarray
    misaligned: np.ndarray  # the same mouths cut 4 px to the right of where they are
    audio: np.ndarray

    @property
    def times(self) -> np.ndarray:
        return np.arange(len(self.mouths)) / self.fps


def _read_part(judge: FaceJudge, name: str) -> Part:
    video = read_video(talking_clip(name), lazy=True)
    n = round(PART_S * video.fps)
    measures: list[FaceMeasure | None] = []
    mouths, misaligned = [], []
    for frame, measure in itertools.islice(judge.follow(video.frames), n):
        assert measure is not None, name
        measures.append(measure)
        mouths.append(frame_mouth_vector(frame, measure))
        misaligned.append(mouth_vector(mouth_crop(frame, measure.landmarks + np.array([4.0, 0.0]))))
    audio = video.audio[: round(n / video.fps * 16_000)]
    return Part(video.fps, measures, np.array(mouths), np.array(misaligned), audio)


@pytest.fixture(scope="module")
def parts(judge: FaceJudge) -> dict[str, Part]:
    return {name: _read_part(judge, name) for name in ("dfrf-cnn2", "edtalk-pose2")}


def test_a_real_part_matches_itself_and_not_another_person(parts: dict[str, Part]) -> None:
    for name, part in parts.items():
        assert np.nanmax(nearest_distances(part.mouths, part.mouths)) < 1e-3, name
        own = mouth_likeness(part.mouths, part.mouths, part.times)
        assert own.render_median < 1e-3 and own.ratio < 0.01, name
        # Its own mouths 2 s apart: measured 0.21 (cnn2) and 0.24 (pose2).
        assert 0.1 < own.real_median < 0.35, (name, own.real_median)
    cnn2, pose2 = parts["dfrf-cnn2"], parts["edtalk-pose2"]
    for render, real in ((cnn2, pose2), (pose2, cnn2)):
        other = mouth_likeness(render.mouths, real.mouths, real.times)
        assert other.ratio > 2.0, other  # measured 2.5 both ways


def test_misaligned_mouths_are_farther_than_the_real_ones(parts: dict[str, Part]) -> None:
    for name, part in parts.items():
        shifted = mouth_likeness(part.misaligned, part.mouths, part.times)
        assert shifted.ratio > 1.15, (name, shifted)  # measured 1.34 and 1.70


def test_a_known_audio_shift_is_measured_on_real_speech(parts: dict[str, Part]) -> None:
    part = parts["dfrf-cnn2"]
    found = clip_av_offset(part.measures, part.audio, part.fps)
    assert abs(found) <= 1  # measured -1: this clip is in sync within a frame
    per_frame = round(16_000 / part.fps)
    for shift in (4, -3):  # audio later by `shift` frames: the video reads `shift` early
        audio = (
            np.concatenate([np.zeros(shift * per_frame, np.float32), part.audio])
            if shift > 0
            else part.audio[-shift * per_frame :]
        )
        assert clip_av_offset(part.measures, audio, part.fps) == found - shift, shift


def test_split_undoes_the_offset_without_inventing_frames() -> None:
    late_video = split_clip(1000, 40.0, 25.0, 3)
    assert (late_video.first_frame, late_video.audio_start_s) == (3, 0.0)
    assert late_video.n_frames == 997 and late_video.enrol_frames == 598
    late_audio = split_clip(1000, 40.0, 25.0, -2, max_s=20.0)
    assert (late_audio.first_frame, late_audio.audio_start_s) == (0, 0.08)
    assert late_audio.n_frames == 500 and late_audio.held_out_first == 300
    assert late_audio.audio_span_s("held_out") == pytest.approx((12.08, 20.08))
    assert late_audio.held_out_index(99.0) == 499


def test_head_motion_and_blinks_of_real_and_still_footage(parts: dict[str, Part]) -> None:
    for name, part in parts.items():
        real = head_motion(part.measures)
        assert real.roll_deg > 0.3 and real.translation > 0.02, (name, real)
        seen = blinks(part.measures, part.fps)
        assert 4 <= seen.per_minute <= 60, (name, seen)  # measured 22 and 49 a minute
        assert 0.2 < seen.depth < 0.75, (name, seen)
        still = [part.measures[0]] * len(part.measures)
        ratios = head_motion(still).ratios(real)
        assert all(value < 1e-9 for value in ratios.values()), ratios
        assert blinks(still, part.fps).count == 0
        assert aperture_correlation(part.measures, part.measures) == pytest.approx(1.0)
