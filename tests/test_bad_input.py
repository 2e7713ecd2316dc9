"""Every bad input: one clear line on stderr, exit status 2, no traceback, no output file."""

from __future__ import annotations

import wave
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import MEDIA, SAMPLES, clip_wav, run_cli

ASTRONAUT = SAMPLES / "astronaut.png"


def _write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype(np.int16).tobytes())
    return path


def _assert_refused(result, out: Path, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("headcast: error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}*")), "temporary output left behind"


def test_missing_image(tmp_path):
    out = tmp_path / "o.mp4"
    r = run_cli("animate", str(tmp_path / "nope.png"), str(clip_wav("0880")), "-o", str(out))
    _assert_refused(r, out, "nope.png", "no such file")


def test_missing_audio(tmp_path):
    out = tmp_path / "o.mp4"
    r = run_cli("animate", str(ASTRONAUT), str(tmp_path / "nope.wav"), "-o", str(out))
    _assert_refused(r, out, "nope.wav")


def test_image_that_is_not_an_image(tmp_path):
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(clip_wav("0880").read_bytes())
    out = tmp_path / "o.mp4"
    r = run_cli("animate", str(fake), str(clip_wav("0880")), "-o", str(out))
    _assert_refused(r, out, "photo.jpg", "not an image")


def test_audio_that_is_not_audio(tmp_path):
    fake = tmp_path / "speech.wav"
    fake.write_bytes((MEDIA / "obama.jpg").read_bytes())
    out = tmp_path / "o.mp4"
    r = run_cli("animate", str(ASTRONAUT), str(fake), "-o", str(out))
    _assert_refused(r, out, "speech.wav", "not audio")


def test_no_face(tmp_path):
    # A real photo's background: the curtains beside the face in obama.jpg.
    photo = cv2.imread(str(MEDIA / "obama.jpg"))
    background = tmp_path / "curtain.png"
    cv2.imwrite(str(background), photo[:400, :300])
    out = tmp_path / "o.mp4"
    r = run_cli("animate", str(background), str(clip_wav("0880")), "-o", str(out))
    _assert_refused(r, out, "no face")


def test_face_too_small(tmp_path):
    photo = cv2.imread(str(ASTRONAUT))
    # The face spans about 59 px: found, but below the 64 px needed to animate.
    small = np.full((400, 400, 3), 200, np.uint8)
    small[60:340, 60:340] = cv2.resize(photo, (280, 280), interpolation=cv2.INTER_AREA)
    path = tmp_path / "small.png"
    cv2.imwrite(str(path), small)
    out = tmp_path / "o.mp4"
    r = run_cli("animate", str(path), str(clip_wav("0880")), "-o", str(out))
    _assert_refused(r, out, "too small")


def test_several_faces_animates_the_largest(tmp_path):
    big = cv2.imread(str(MEDIA / "obama.jpg"))
    other = cv2.resize(cv2.imread(str(MEDIA / "biden.jpg")), None, fx=0.5, fy=0.5)
    canvas = np.zeros((big.shape[0], big.shape[1] + other.shape[1], 3), np.uint8)
    canvas[:, : big.shape[1]] = big
    canvas[: other.shape[0], big.shape[1] :] = other[: big.shape[0]]
    path = tmp_path / "two.jpg"
    cv2.imwrite(str(path), canvas)
    out = tmp_path / "o.mp4"
    r = run_cli("animate", str(path), str(clip_wav("0880")), "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr
    assert "faces found" in r.stderr and "largest" in r.stderr
    assert out.exists()


def test_empty_audio(tmp_path):
    wav = _write_wav(tmp_path / "empty.wav", np.zeros(0))
    out = tmp_path / "o.mp4"
    r = run_cli("animate", str(ASTRONAUT), str(wav), "-o", str(out))
    _assert_refused(r, out, "empty.wav")


def test_silent_audio(tmp_path):
    wav = _write_wav(tmp_path / "silence.wav", np.zeros(16000 * 2))
    out = tmp_path / "o.mp4"
    r = run_cli("animate", str(ASTRONAUT), str(wav), "-o", str(out))
    _assert_refused(r, out, "silent")


def test_audio_over_the_limit(tmp_path):
    out = tmp_path / "o.mp4"
    r = run_cli(
        "animate", str(ASTRONAUT), str(clip_wav("0870")), "-o", str(out), "--max-audio-seconds", "5"
    )
    _assert_refused(r, out, "limit")


@pytest.mark.parametrize("name", ["o.avi", "o"])
def test_unsupported_output(tmp_path, name):
    out = tmp_path / name
    r = run_cli("animate", str(ASTRONAUT), str(clip_wav("0880")), "-o", str(out))
    _assert_refused(r, out, "unsupported extension")


def test_output_folder_missing(tmp_path):
    out = tmp_path / "missing" / "o.mp4"
    r = run_cli("animate", str(ASTRONAUT), str(clip_wav("0880")), "-o", str(out))
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("command", "option", "value", "fragment"),
    [
        ("animate", "--fps", "100", "fps must be between 5 and 60"),
        ("animate", "--size", "64", "size must be between 128 and 1024"),
        ("say", "--fps", "2", "fps must be between 5 and 60"),
        ("say", "--size", "2048", "size must be between 128 and 1024"),
    ],
)
def test_frame_rate_and_size_outside_the_shared_ranges(tmp_path, command, option, value, fragment):
    out = tmp_path / "o.mp4"
    speech = str(clip_wav("0880")) if command == "animate" else "Hello."
    r = run_cli(command, str(ASTRONAUT), speech, "-o", str(out), option, value)
    _assert_refused(r, out, fragment)


@pytest.mark.parametrize(
    ("command", "value", "fragment"),
    [
        ("animate", "1.5", "got 1.5"),
        ("animate", "lots", "got 'lots'"),
        ("say", "-0.2", "got -0.2"),
        ("say", "nan", "got nan"),
    ],
)
def test_head_motion_outside_0_to_1(tmp_path, command, value, fragment):
    out = tmp_path / "o.mp4"
    speech = str(clip_wav("0880")) if command == "animate" else "Hello."
    r = run_cli(command, str(ASTRONAUT), speech, "-o", str(out), "--head-motion", value)
    _assert_refused(r, out, "--head-motion must be a number from 0", fragment)
