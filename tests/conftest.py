"""Shared test material: real photos, real speech with reference alignments, the judge."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT / "tests" / "media"
SAMPLES = ROOT / "samples"
CLIPS = ("0870", "0880", "0890", "0920", "0930")


def clip_wav(clip: str) -> Path:
    return MEDIA / f"librivox-{clip}.wav"


def clip_text(clip: str) -> str:
    return (MEDIA / f"librivox-{clip}.txt").read_text().strip()


JOIN_GAP_S = 0.4


def joined_clips(sample_rate: int = 16000, repeats: int = 1):
    """All the recordings one after another, ``JOIN_GAP_S`` apart, with their joined text:
    25 s of speech with real pauses, long enough to be decoded in pieces; ``repeats`` times
    over for speech whose decoding outlasts the first frames by far."""
    from headcast.audio import Audio, load_audio

    parts: list[np.ndarray] = []
    for clip in CLIPS * repeats:
        if parts:
            parts.append(np.zeros(round(JOIN_GAP_S * sample_rate), np.float32))
        parts.append(load_audio(clip_wav(clip), sample_rate=sample_rate).samples)
    text = " ".join(clip_text(clip) for clip in CLIPS * repeats)
    return Audio(np.concatenate(parts), sample_rate), text


def clip_pcm16(clip: str, sample_rate: int) -> np.ndarray:
    """The recording as int16 PCM at ``sample_rate``: what a live client or microphone sends."""
    from headcast.audio import load_audio

    samples = load_audio(clip_wav(clip), sample_rate=sample_rate).samples
    return np.clip(np.rint(samples * 32767), -32768, 32767).astype(np.int16)


def portrait_b64(name: str = "obama.jpg") -> str:
    """A test portrait as the base64 text of an ``image_b64`` field."""
    return base64.b64encode((MEDIA / name).read_bytes()).decode()


def reference_phones(clip: str) -> list:
    """The reference alignment shipped with the recording, as judge PhoneSpans."""
    from quality.lipsync import PhoneSpan, normalise_label

    data = json.loads((MEDIA / f"librivox-{clip}.phone.json").read_text())
    spans = []
    for word in data["w"]:
        for phone in word["w"]:
            label = phone["t"]
            label = "SIL" if label.startswith("+") else normalise_label(label)
            spans.append(PhoneSpan(label, float(phone["b"]), float(phone["b"]) + float(phone["d"])))
    return spans


def run_cli(
    *args: str, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess:
    """Run the real ``headcast`` command in a fresh process."""
    env = dict(os.environ, HEADCAST_CACHE_DIR=str(ROOT / ".pytest_cache" / "avatars"))
    return subprocess.run(
        [sys.executable, "-m", "headcast", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=env,
        input=stdin,
        timeout=600,
    )


@pytest.fixture(scope="session")
def judge():
    from quality.judge import FaceJudge

    return FaceJudge()


@pytest.fixture(scope="session")
def speech_pcm() -> np.ndarray:
    """LibriVox 0870 as int16 PCM at 16 kHz, for the live WebSocket protocols."""
    return clip_pcm16("0870", 16_000)
