"""examples/pipecat_offline.py makes a video the independent judge finds lip-synced."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from headcast_client.testing import judged_lipsync

from pipeline_material import PORTRAIT, REPO

EXAMPLE = REPO / "examples" / "pipecat_offline.py"
RECORDING = "0870"  # a LibriVox reading with a reference phone alignment
FPS = 25


def test_the_offline_example_video_is_judged_lip_synced(tmp_path: Path) -> None:
    out = tmp_path / "avatar.mp4"
    speech = REPO / "tests" / "media" / f"librivox-{RECORDING}.wav"
    made = subprocess.run(
        [sys.executable, str(EXAMPLE), str(PORTRAIT), str(speech), "-o", str(out), "--size", "256"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    assert out.stat().st_size > 0

    figures = judged_lipsync(out, RECORDING, REPO)
    assert figures["fps"] == FPS and figures["face_share"] >= 0.95
    assert abs(figures["av_offset_frames"]) <= 1
    assert figures["bilabial_closure"] >= 0.8
    assert figures["silence_rest"] >= 0.9
    assert figures["openness_correlation"] >= 0.5
    assert figures["speech_aperture_correlation"] >= 0.4
