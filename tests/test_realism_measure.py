"""The realism figures (head motion, blinks) on a real person talking and on a still video."""

from __future__ import annotations

import json
import math
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from quality.judge import FaceJudge
from quality.realism import BLINK_EAR_SHARE, Realism, main, measure_video, realism
from tests.conftest import MEDIA

STILL_FRAMES = 40


@pytest.fixture(scope="module")
def grid(judge: FaceJudge) -> Realism:
    measured = measure_video(MEDIA / "grid-s1.mp4", judge)
    return realism(measured.measures, measured.fps)


def test_a_real_speaker_moves_a_little_and_blinks(grid: Realism) -> None:
    assert grid.frames == 375 and grid.frames_measured == grid.frames
    assert grid.seconds == pytest.approx(15.0)
    # A speaker reading to camera: the head turns and tilts by degrees, not tens of them.
    assert 0.3 < grid.roll_std_deg < 6.0
    assert 0.005 < grid.yaw_std < 0.1
    assert 0.005 < grid.pitch_std < 0.1
    assert 0.02 < grid.translation_std < 0.5
    # Blinks close the lids well below the threshold, and cannot come more than one per
    # 0.6 s run (plus its gap).
    assert 3 <= grid.blink_count <= 20
    assert grid.blinks_per_minute == pytest.approx(grid.blink_count / 0.25)
    assert 0.2 < grid.deepest_blink <= grid.median_blink_depth < BLINK_EAR_SHARE


def _write_still_video(path: Path, frame_rgb: np.ndarray, fps: int) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frame_rgb.shape[1], frame_rgb.shape[0]
        stream.pix_fmt = "yuv444p"
        stream.options = {"qp": "0"}  # lossless: every decoded frame is the same picture
        for _ in range(STILL_FRAMES):
            frame = av.VideoFrame.from_ndarray(frame_rgb, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def test_a_still_video_has_no_motion_and_no_blinks(
    tmp_path: Path, judge: FaceJudge, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = cv2.cvtColor(cv2.imread(str(MEDIA / "obama.jpg")), cv2.COLOR_BGR2RGB)
    photo = cv2.resize(photo, (256, round(256 * photo.shape[0] / photo.shape[1]) // 2 * 2))
    video = tmp_path / "still.mp4"
    _write_still_video(video, photo, fps=25)

    measured = measure_video(video, judge, keep_frames=True)
    assert measured.frames is not None and len(measured.frames) == STILL_FRAMES
    assert all(np.array_equal(f, measured.frames[0]) for f in measured.frames)
    still = realism(measured.measures, measured.fps)
    assert still.frames_measured == STILL_FRAMES
    motion = (still.roll_std_deg, still.yaw_std, still.pitch_std, still.translation_std)
    assert max(motion) < 1e-12  # zero but for the float rounding of a mean
    assert still.blink_count == 0 and still.blinks_per_minute == 0.0
    assert math.isnan(still.deepest_blink) and math.isnan(still.median_blink_depth)

    # The command line prints the same figures.
    assert main([str(video), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["frames_measured"] == STILL_FRAMES and printed["blink_count"] == 0


def test_max_seconds_measures_only_the_start(judge: FaceJudge) -> None:
    measured = measure_video(MEDIA / "grid-s1.mp4", judge, max_seconds=2.0)
    assert len(measured.measures) == 50 and measured.frames is None
