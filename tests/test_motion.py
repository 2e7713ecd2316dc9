"""Speech → motion on real reference alignments: closure, rest, openness, blinks, determinism."""

from __future__ import annotations

import numpy as np

from headcast.audio import Audio, load_audio
from headcast.motion import build_motion, frame_count
from headcast.phones import PhonePiece, join_pieces
from headcast.phones.track import SILENCE, Phone, PhoneTrack
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
    # Real speakers turn a few degrees either way, seldom past 15°.
    yaw = a.controls["head_yaw_deg"]
    assert yaw.std() > 1.0 and np.abs(yaw).max() < 15.0


def test_no_head_motion_means_still_head():
    track, audio = _track("0880")
    motion = build_motion(track, audio, FPS, head_motion=False)
    for name in ("head_yaw_deg", "head_pitch_deg", "head_roll_deg"):
        assert not motion.controls[name].any()


def _joined_clips() -> tuple[PhoneTrack, Audio]:
    """All the clips one after another, 0.4 s apart: 25 s of speech with real pauses."""
    gap_s = 0.4
    phones: list[Phone] = []
    samples: list[np.ndarray] = []
    offset = 0.0
    for clip in CLIPS:
        track, audio = _track(clip)
        if samples:
            phones.append(Phone(SILENCE, offset, offset + gap_s))
            samples.append(np.zeros(round(gap_s * audio.sample_rate), np.float32))
            offset += gap_s
        phones += [Phone(p.label, p.start_s + offset, p.end_s + offset) for p in track.phones]
        samples.append(audio.samples)
        offset += audio.duration_s
    audio = Audio(np.concatenate(samples), audio.sample_rate)
    return join_pieces([PhonePiece(0.0, offset, tuple(phones), "alignment")], offset), audio


def test_motion_made_as_the_pieces_arrive_is_the_whole_clips(caplog) -> None:
    """Frames made while a clip's phones are found a piece at a time are those made from all
    of them, and the first are made before the last piece is found (its sentence, left out of
    the transcript, is recognized with a warning logged when that piece is reached)."""
    import logging

    from headcast.motion.build import MotionOptions, clip_motion, motion_track
    from headcast.phones import phones_in_pieces
    from tests.conftest import clip_text, joined_clips

    audio, _ = joined_clips()
    text = " ".join(clip_text(clip) for clip in CLIPS[:-1])
    pieces = list(phones_in_pieces(audio, text))
    assert len(pieces) >= 3
    caplog.clear()
    frames: list = []
    made_before_last_piece = None
    with caplog.at_level(logging.WARNING, logger="headcast.phones"):
        for batch in clip_motion(audio, MotionOptions(FPS, seed=5), transcript=text):
            if made_before_last_piece is None and "no words in the transcript" in caplog.text:
                made_before_last_piece = len(frames)
            frames += batch.frames
    track = join_pieces(pieces, audio.duration_s)
    whole = build_motion(track, audio, FPS, seed=5)
    arrived = motion_track(frames, track, FPS)
    for name, curve in whole.controls.items():
        np.testing.assert_array_equal(arrived.controls[name], curve, name)
    assert made_before_last_piece is not None
    assert 0 < made_before_last_piece < whole.n_frames - FPS * 2


def test_pauses_blink_glance_and_accents_raise_the_brows():
    track, audio = _joined_clips()
    motion = build_motion(track, audio, FPS, seed=1)
    n = motion.n_frames
    brows = motion.controls["brow_raise"]
    assert brows.max() > 0.2 and (brows > 0.05).mean() > 0.05
    assert 3 <= (np.diff((motion.controls["blink"] > 0.9).astype(int)) == 1).sum() <= n / FPS / 2
    assert motion.controls["gaze_x"].std() > 0.02
    # Nods follow the speech: the head pitch moves with loudness, not only with the sway.
    still = build_motion(track, audio, FPS, seed=1, head_motion=False)
    assert not still.controls["head_pitch_deg"].any()
    assert motion.controls["head_pitch_deg"].std() > 0.3


def test_a_blink_closes_and_reopens_smoothly_at_any_moment():
    from headcast.motion.blinks import blink_closure

    values = [blink_closure(float(t)) for t in np.linspace(-0.05, 0.4, 45001)]
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in values)
    assert max(values) == 1.0 and values[0] == values[-1] == 0.0


def test_blinks_stay_off_stressed_syllables_and_the_head_nods_on_them():
    """Over the five recordings with their reference phones: the lids are seldom shut on a
    stressed vowel (far less often than blinks at random times would be; a vowel heard only
    after a blink has begun cannot be avoided), and the head dips (chin down) around stressed
    vowels more than elsewhere."""
    from headcast.motion.accents import BeatFinder
    from headcast.motion.prosody import STEP_SAMPLES, ProsodyStream

    shut_on_stress = shut = stressed_frames = frames = 0
    nod_on, nod_off = [], []
    for clip in CLIPS:
        track, audio = _track(clip)
        prosody = ProsodyStream()
        samples = load_audio(clip_wav(clip), sample_rate=16_000).samples
        prosody.push(samples[: len(samples) // STEP_SAMPLES * STEP_SAMPLES])
        beats = BeatFinder().hear(track, audio.duration_s, prosody.loudness, prosody.semitones)
        stressed = [b for b in beats if b.strength > 0]
        assert stressed, clip
        for seed in range(3):
            motion = build_motion(track, audio, FPS, seed=seed)
            times = np.arange(motion.n_frames) / FPS
            on = np.zeros(motion.n_frames, bool)
            for beat in stressed:
                on |= (times >= beat.start_s) & (times < beat.end_s)
            closed = motion.controls["blink"] > 0.99
            shut_on_stress += int((closed & on).sum())
            shut += int(closed.sum())
            stressed_frames += int(on.sum())
            frames += motion.n_frames
            # The pitch's change over the vowel: nods push it up (chin down) against the drift.
            pitch = motion.controls["head_pitch_deg"]
            rise = np.diff(pitch, prepend=pitch[0])
            nod_on.append(rise[on].mean())
            nod_off.append(rise[~on].mean())
    at_random = shut * stressed_frames / frames
    assert shut > 30 and shut_on_stress <= 0.4 * at_random, (shut_on_stress, at_random)
    assert np.mean(nod_on) > np.mean(nod_off)
