"""The head-motion intensity: 0 holds the head still, more moves it more, on real speech; the
library reads numbers in 0..1 and the old on/off switch, and refuses anything else."""

from __future__ import annotations

import math

import numpy as np
import pytest

from headcast.audio import load_audio
from headcast.errors import InputError
from headcast.lipsync import lipsync
from headcast.motion import MotionTrack, build_motion
from headcast.motion.build import MotionOptions
from headcast.motion.head_intensity import HEAD_MOTION_DEFAULT, head_motion_intensity
from headcast.phones.track import Phone, PhoneTrack
from tests.conftest import clip_wav, reference_phones

FPS = 25.0
ANGLES = ("head_yaw_deg", "head_pitch_deg", "head_roll_deg")


@pytest.fixture(scope="module")
def speech():
    """LibriVox 0870 (real speech, 7 s) and its reference phones."""
    audio = load_audio(clip_wav("0870"))
    phones = tuple(Phone(p.label, p.start_s, p.end_s) for p in reference_phones("0870"))
    return PhoneTrack(phones, audio.duration_s, "alignment"), audio


def _head_controls(motion: MotionTrack) -> list[str]:
    """Every control that moves the head: its angles, and whatever else is named head_."""
    names = [name for name in motion.controls if name.startswith("head_")]
    assert set(ANGLES) <= set(names)
    return names


def _spread(motion: MotionTrack) -> float:
    """How far the head's angles wander over the clip: their standard deviations, in degrees."""
    return float(np.linalg.norm([motion.controls[name].std() for name in ANGLES]))


def test_numbers_in_0_to_1_and_the_old_switch_are_read():
    assert head_motion_intensity(0) == 0.0
    assert head_motion_intensity(1) == 1.0
    assert head_motion_intensity(0.25) == 0.25
    assert head_motion_intensity(np.float32(0.5)) == 0.5
    assert head_motion_intensity(True) == HEAD_MOTION_DEFAULT
    assert head_motion_intensity(False) == 0.0
    assert 0.0 < HEAD_MOTION_DEFAULT < 1.0
    assert MotionOptions(head_motion=False).head_motion == 0.0
    assert MotionOptions().head_motion == HEAD_MOTION_DEFAULT


@pytest.mark.parametrize("value", [1.5, -0.1, math.nan, math.inf, "lots", "0.5", None, [0.5]])
def test_anything_else_is_refused_naming_the_field(value):
    with pytest.raises(ValueError, match=r"^config\.head_motion must be a number from 0 .* to 1"):
        head_motion_intensity(value, "config.head_motion")
    with pytest.raises(ValueError, match="head_motion"):
        MotionOptions(head_motion=value)  # type: ignore[arg-type]


def test_at_0_the_head_is_still_and_at_1_it_moves_more_than_at_0_3(speech):
    track, audio = speech
    still = build_motion(track, audio, FPS, seed=3, head_motion=0.0)
    for name in _head_controls(still):
        assert not still.controls[name].any(), name
    # The mouth still speaks.
    assert still.controls["jaw_open"].max() > 0.2
    low = _spread(build_motion(track, audio, FPS, seed=3, head_motion=0.3))
    high = _spread(build_motion(track, audio, FPS, seed=3, head_motion=1.0))
    assert low > 0.1, low
    assert high > 1.5 * low, (low, high)


def test_the_old_switch_gives_the_default_and_the_still_head(speech):
    track, audio = speech
    switched_on = build_motion(track, audio, FPS, seed=3, head_motion=True)
    default = build_motion(track, audio, FPS, seed=3)
    for name in ANGLES:
        np.testing.assert_array_equal(switched_on.controls[name], default.controls[name], name)
    switched_off = build_motion(track, audio, FPS, seed=3, head_motion=False)
    assert not any(switched_off.controls[name].any() for name in ANGLES)


def test_lipsync_tracks_at_0_keep_the_head_still_and_bad_values_are_input_errors(speech):
    track, _ = speech
    result = lipsync(clip_wav("0870"), phones=track, head_motion=0)
    assert result.motion.n_frames == round(7.1 * FPS)
    for name in _head_controls(result.motion):
        assert not result.motion.controls[name].any(), name
    with pytest.raises(InputError, match="head_motion"):
        lipsync(clip_wav("0870"), phones=track, head_motion=1.5)


@pytest.mark.parametrize(
    ("options", "expected"),
    [([], None), (["--head-motion", "0.3"], 0.3), (["--head-motion", "1"], 1.0),
     (["--no-head-motion"], 0.0)],
)  # fmt: skip
def test_the_command_line_passes_the_intensity_to_animate(options, expected):
    from headcast.cli import build_parser
    from headcast.cli.render_options import check_render_options, render_settings

    for command in (["animate", "face.jpg", "speech.wav"], ["say", "face.jpg", "Hello."]):
        args = build_parser().parse_args([*command, "-o", "out.mp4", *options])
        check_render_options(args)
        # Not given: animate's own default.
        assert render_settings(args).get("head_motion") == expected
