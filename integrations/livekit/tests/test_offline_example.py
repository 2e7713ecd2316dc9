"""examples/livekit_offline.py: speech through HeadcastVideoGenerator and LiveKit's
AVSynchronizer, recorded from the avatar's tracks, makes a video the independent judge finds
lip-synced."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from headcast_client.testing import judged_lipsync

from material import PORTRAIT_PATH

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "livekit_offline.py"
RECORDING = "0870"  # a LibriVox reading with a reference phone alignment
FPS = 25


def test_the_offline_example_video_is_judged_lip_synced(tmp_path: Path) -> None:
    out = tmp_path / "avatar.mp4"
    speech = REPO / "tests" / "media" / f"librivox-{RECORDING}.wav"
    command = [sys.executable, str(EXAMPLE), str(PORTRAIT_PATH), str(speech), "-o", str(out)]
    made = subprocess.run(
        [*command, "--size", "256"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr[-3000:]

    figures = judged_lipsync(out, RECORDING, REPO)
    assert figures["fps"] == FPS and figures["face_share"] >= 0.95
    # 1 s of idle frames first, then the 7.1 s reading, then 1 s idle: all recorded.
    assert 1.0 <= figures["speech_start_s"] <= 2.5
    assert figures["frames"] >= round((1.0 + 7.1 + 1.0) * FPS)
    # The stream's own frames judge at offset -1 and closure 0.43 (3 of 7 /p b m/) here;
    # LiveKit's synchronizer paces pictures (a frame clock) and sound (its audio queue) apart,
    # which moves the offset over -3..+1 and the closure over 0.29..1.0 from run to run on a
    # loaded machine. Held to what no run here missed, and what a broken lip-sync (a frozen,
    # shut or mistimed mouth) would.
    assert abs(figures["av_offset_frames"]) <= 3
    assert figures["speech_aperture_correlation"] >= 0.5
    assert figures["openness_correlation"] >= 0.35
    assert figures["silence_rest"] >= 0.9
    assert figures["bilabial_closure"] >= 0.25
