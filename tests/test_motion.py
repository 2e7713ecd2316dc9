"""Speech → motion on real reference alignments: closure, rest, openness, blinks, determinism."""

from __future__ import annotations

import numpy as np

from headcast.audio import load_audio
from headcast.motion import build_motion, frame_count
from headcast.phones.track import Phone, PhoneTrack
from tests.conftest import CLIPS, clip_wav, reference_phones

FPS = 25.0


def _track(clip: str):
    audio = load_audio(clip_wav(clip))
    phones = tuple(Phone(p.label, p.start_s, p.end_s) for p in reference_phones(clip))
    return PhoneTrack(phones, audio.duration_s, "alignment"), audio


def test_frame_count_covers_the_audio():
    for clip in CLIPS:
        track, audio = _track(clip)
        motion = build_motion(track, audio, FPS)
        assert motion.n_frames == frame_count(audio.duration_s, FPS)
        assert abs(motion.n_frames / FPS - audio.duration_s) <= 1 / FPS


def test_bilabials_close_and_vowels_open():
    for clip in CLIPS:
        track, audio = _track(clip)
        motion = build_motion(track, audio, FPS)
        jaw = motion.controls["jaw_open"]
        for phone in track.phones:
            times = np.arange(motion.n_frames) / FPS
            frames = np.flatnonzero((times >= phone.start_s - 1e-9) & (times < phone.end_s - 1e-9))
            if phone.label in {"P", "B", "M"}:
                nearest = round(0.5 * (phone.start_s + phone.end_s) * FPS)
                closed = jaw[frames] if len(frames) else jaw[[min(nearest, motion.n_frames - 1)]]
                assert np.all(closed == 0.0), (clip, phone)
            if phone.label in {"AA", "AE", "AO"} and len(frames):
                assert jaw[frames].max() > 0.2, (clip, phone)


def test_rest_in_long_silence_and_at_the_edges():
    track, audio = _track("0870")
    motion = build_motion(track, audio, FPS)
    assert motion.controls["jaw_open"][0] == 0.0
    for phone in track.phones:
        if phone.is_silence and phone.duration_s > 0.3:
            mid = int(0.5 * (phone.start_s + phone.end_s) * FPS)
            assert motion.controls["jaw_open"][min(mid, motion.n_frames - 1)] == 0.0


def test_blinks_are_natural_and_motion_is_deterministic():
    track, audio = _track("0870")
    a = build_motion(track, audio, FPS, seed=7)
    b = build_motion(track, audio, FPS, seed=7)
    for name in a.controls:
        np.testing.assert_array_equal(a.controls[name], b.controls[name])
    blink = a.controls["blink"]
    closed = blink > 0.9
    starts = np.flatnonzero(closed[1:] & ~closed[:-1])
    assert 1 <= len(starts) <= 5  # 7 s of speech: a natural 10-30 blinks per minute
    lengths = [np.argmax(~closed[s + 1 :]) + 1 for s in starts if not closed[s + 1 :].all()]
    assert all(n <= 4 for n in lengths)  # closed for at most ~160 ms
    assert np.abs(a.controls["head_yaw_deg"]).max() < 5.0


def test_no_head_motion_means_still_head():
    track, audio = _track("0880")
    motion = build_motion(track, audio, FPS, head_motion=False)
    for name in ("head_yaw_deg", "head_pitch_deg", "head_roll_deg"):
        assert not motion.controls[name].any()
