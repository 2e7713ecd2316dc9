"""Live lip-sync: same frames however the audio arrives, bounded look-ahead, rest in silence."""

from __future__ import annotations

import numpy as np
import pytest

from headcast.audio import load_audio, resample
from headcast.motion import build_motion
from headcast.motion.live import LiveLipSync
from headcast.phones import phones_from_audio
from tests.conftest import clip_wav, reference_phones

FPS = 25.0


def _run(chunks, rate, **kwargs):
    live = LiveLipSync(FPS, **kwargs)
    frames = []
    for chunk in chunks:
        frames += live.push_audio(chunk, rate)
    frames += live.finish()
    return frames


def _controls(frames):
    return np.array(
        [[m.jaw_open, m.lip_press, m.mouth_stretch, m.lip_pucker, m.blink] for _, m in frames]
    )


@pytest.fixture(scope="module")
def speech():
    return load_audio(clip_wav("0870"))


def test_chunking_does_not_change_the_frames(speech):
    whole = _run([speech.samples], 16000)
    rng = np.random.default_rng(3)
    cuts = np.sort(rng.choice(len(speech.samples), 40, replace=False))
    pieces = np.split(speech.samples, cuts)
    chunked = _run(pieces, 16000)
    assert [i for i, _ in whole] == list(range(len(whole)))
    np.testing.assert_array_equal(_controls(whole), _controls(chunked))
    int16 = (np.clip(speech.samples, -1, 1) * 32767).astype(np.int16)
    from_int16 = _run(np.array_split(int16, 17), 16000)
    # int16 rounding may tip a close call of the recognizer, but not the overall motion.
    a, b = _controls(from_int16)[:, 0], _controls(whole)[:, 0]
    assert len(a) == len(b) and np.corrcoef(a, b)[0, 1] > 0.95


def test_any_sample_rate(speech):
    at_44k = resample(speech.samples, 16000, 44100)
    frames = _run(np.array_split(at_44k, 50), 44100)
    assert abs(len(frames) - speech.duration_s * FPS) <= 1
    jaw_16k = _controls(_run([speech.samples], 16000))[:, 0]
    jaw_44k = _controls(frames)[:, 0]
    n = min(len(jaw_16k), len(jaw_44k))
    assert np.corrcoef(jaw_16k[:n], jaw_44k[:n])[0, 1] > 0.9


def test_frames_arrive_within_the_lookahead(speech):
    lookahead_ms = 120.0
    live = LiveLipSync(FPS, lookahead_ms=lookahead_ms)
    chunk = 160  # 10 ms pushes
    worst_s = 0.0
    for start in range(0, len(speech.samples), chunk):
        pushed_until = (start + chunk) / 16000
        for index, _ in live.push_audio(speech.samples[start : start + chunk], 16000):
            worst_s = max(worst_s, pushed_until - index / FPS)
    # A frame waits for its look-ahead plus at most one decoding block (40 ms) and one push.
    assert worst_s <= (lookahead_ms + 40 + 10) / 1000 + 1e-6


def test_lips_close_on_bilabials_and_agree_with_batch(speech):
    frames = _run([speech.samples], 16000)
    jaw = _controls(frames)[:, 0]
    batch = build_motion(phones_from_audio(speech), speech, FPS).controls["jaw_open"]
    n = min(len(jaw), len(batch))
    assert np.corrcoef(jaw[:n], batch[:n])[0, 1] > 0.6
    closed = 0
    bilabials = [p for p in reference_phones("0870") if p.label in {"P", "B", "M"}]
    for p in bilabials:
        idx = [i for i in range(len(jaw)) if p.start_s - 0.04 <= i / FPS <= p.end_s + 0.04]
        closed += bool(idx) and jaw[idx].min() < 0.05
    assert closed / len(bilabials) >= 0.6  # from audio alone, no transcript


@pytest.mark.parametrize("kind", ["silence", "noise"])
def test_silence_and_noise_rest(kind):
    rng = np.random.default_rng(0)
    audio = (
        np.zeros(48000, np.float32)
        if kind == "silence"
        else rng.normal(0, 0.05, 48000).astype(np.float32)
    )
    frames = _run(np.array_split(audio, 9), 16000)
    assert len(frames) == 75
    assert _controls(frames)[:, 0].max() == 0.0


def _music(seconds: float = 6.0) -> np.ndarray:
    """Plucked notes of a little arpeggio over a held bass: music with no voice in it."""
    sr = 16000
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * 110 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    notes = [60, 64, 67, 72, 65, 69, 72, 77, 62, 65, 69, 74]
    for k in range(int(seconds / 0.25)):
        start = k * 0.25
        f = 440 * 2 ** ((notes[k % len(notes)] - 69) / 12)
        env = np.exp(-(t - start) * 3) * (t >= start)
        for harmonic, amp in ((1, 1.0), (2, 0.5), (3, 0.3), (4, 0.15)):
            x += amp * env * np.sin(2 * np.pi * f * harmonic * (t - start))
    return (0.2 * x / np.abs(x).max()).astype(np.float32)


def test_music_keeps_the_mouth_at_rest():
    from headcast.audio import Audio

    music = _music()
    batch = build_motion(phones_from_audio(Audio(music, 16000)), Audio(music, 16000), FPS)
    assert batch.controls["jaw_open"].max() == 0.0
    jaw = _controls(_run(np.array_split(music, 30), 16000))[:, 0]
    # Live needs about a second of held notes to tell music from a voice.
    assert (jaw[int(1.5 * FPS) :] > 0.05).mean() == 0.0
    assert (jaw > 0.05).mean() < 0.1
